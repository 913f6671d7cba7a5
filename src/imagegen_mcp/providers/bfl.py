"""The ``bfl`` provider: Black Forest Labs' FLUX API (``reference/providers.md`` §3), hand-written.

Every call is submit-then-poll: ``POST {BFL_BASE_URL}/v1/<endpoint>`` (header ``x-key``, JSON) answers
``{id, polling_url}``; the returned ``polling_url`` is *always* what is polled (it names the serving
region, often another host) — followed only over ``https`` or on the configured origin, never
rebuilt. ``get_result`` answers 200 with a ``status``: ``Pending`` (poll on; ``progress`` 0–1 shown
as MCP progress), ``Ready`` (``result.sample``: a signed URL that dies after 10 minutes, downloaded
at once), ``Request Moderated`` / ``Content Moderated`` (a refusal: no fallback, not charged),
``Error`` (``details``; the job failed upstream, not charged: the router may fall back) and ``Task
not found`` (unknown or expired id). BFL has **no cancel endpoint**: a host cancel stops polling
and the task runs out upstream (it is billed if it finishes; the ledger cannot see that).

How our arguments map (the README's bfl section has the same table):

===================  ===========================================================================
``generate``         flux-pro-1.1 (or any model in ``data/bfl_models.json``); with references or a
                     baseline: flux-kontext-pro (``input_image``, ``input_image_2``…; FLUX.2 up to 8)
``edit``             kontext / FLUX.2: the image, then references, the prompt as the instruction
``inpaint/erase``    flux-pro-1.0-fill: ``image`` + ``mask`` (both base64; BFL's mask is ours:
                     white = change); erase adds an instruction to fill with the background
``outpaint``         flux-pro-1.0-expand: ``left/right/top/bottom`` from ``expand`` (≤ 2048 each)
``style_transfer``   kontext / FLUX.2: the content image then the style image, with an instruction
``variation``        flux-pro-1.1-ultra: ``image_prompt`` (base64), ``image_prompt_strength`` =
                     1 − ``strength`` (default 0.5); the prompt, or "a variation of this image"
``aspect_ratio``     ``aspect_ratio`` (ultra, kontext: 21:9…9:21) or ``width``/``height`` (÷32 for
                     pro 1.1, ÷16 for FLUX.2)
``image_size``       long edge (pro 1.1: 768/1024/1440; FLUX.2: 1024/1440/2048); refused for the
                     fixed-size endpoints (ultra, kontext, fill, expand)
``consistency``      a sentence saying how closely to keep the references (no BFL parameter)
``seed``, ``output_format``  passed through (``jpeg``/``png``; ``webp`` refused)
``n``                one task per image (BFL makes one image per task), each its own attempt
===================  ===========================================================================

Not offered: ``upscale``, ``remove_background``, ``negative_prompt``, ``background`` (FLUX has none).
Money: 402 (no credits) and 429 (over the 24 active tasks, 6 for kontext-max; retried with backoff)
fall back; cost is the submit answer's ``cost`` in credits when BFL sends it, else the price table
(1 credit = $0.01), and only a ``Ready`` task is counted.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from imagegen_mcp import errors as e
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers import queued
from imagegen_mcp.providers.base import (
    Call,
    Capabilities,
    ModelInfo,
    Operation,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)
from imagegen_mcp.providers.http import SharedClient, retrying
from imagegen_mcp.providers.openai_operations import CONSISTENCY, ERASE, OUTPAINT, STYLE, VARIATION
from imagegen_mcp.providers.polling import PollStatus, poll

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings

DEFAULT_BASE_URL = "https://api.bfl.ai"
WHO = queued.Who("bfl", "Black Forest Labs", "BFL_API_KEY", "BFL_BASE_URL", "bfl_…")
COMMON = frozenset({"seed", "output_format", "n", "input_images"})
ARGUMENTS: dict[Operation, frozenset[str]] = {
    "generate": COMMON | {"aspect_ratio", "image_size", "consistency"},
    "edit": COMMON | {"aspect_ratio", "consistency"},
    "inpaint": COMMON | {"mask"},
    "erase": COMMON | {"mask"},
    "outpaint": COMMON | {"expand", "aspect_ratio"},
    "style_transfer": COMMON | {"style_image", "aspect_ratio"},
    "variation": COMMON | {"aspect_ratio", "strength"},
}
LONG_EDGE = {"wh32": {"low": 768, "medium": 1024, "high": 1440}, "wh16": {"low": 1024, "medium": 1440, "high": 2048}}
ASPECT_RANGE = (9 / 21, 21 / 9)


@dataclass(frozen=True)
class Model:
    id: str
    operations: frozenset[Operation]
    size: str
    max_inputs: int = 0
    credits: float | None = None
    per_mp: tuple[float, float] | None = None

    def credits_for(self, width: int | None, height: int | None) -> float | None:
        if self.per_mp is not None:
            megapixels = max(1, math.ceil((width or 1024) * (height or 1024) / 1_000_000))
            return self.per_mp[0] + self.per_mp[1] * (megapixels - 1)
        return self.credits


@dataclass(frozen=True)
class Catalogue:
    models: dict[str, Model]
    defaults: dict[str, str]
    credit_usd: float


def load() -> Catalogue:
    data = json.loads(resources.files("imagegen_mcp.providers").joinpath("data/bfl_models.json").read_text("utf-8"))
    models = {
        mid: Model(
            mid,
            frozenset(m["operations"]),
            m["size"],
            m.get("max_inputs", 0),
            m.get("credits"),
            tuple(m["per_mp"]) if "per_mp" in m else None,
        )
        for mid, m in data["models"].items()
    }
    return Catalogue(models, dict(data["defaults"]), float(data["credit_usd"]))


@dataclass
class Plan:
    """One task: the endpoint, its body, and what the answer is priced by."""

    model: Model
    body: dict[str, Any]
    width: int | None = None
    height: int | None = None
    notes: list[str] = field(default_factory=list)


class BFLProvider:
    name = "bfl"

    def __init__(
        self,
        http: SharedClient | None = None,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        catalogue: Catalogue | None = None,
        deadline_s: float = 180.0,
        poll_interval_s: float = 0.5,
        max_attempts: int = 3,
        retry_budget_s: float = 30.0,
        backoff_s: float = 1.0,
    ) -> None:
        self._owns_http = http is None
        self.http = http or SharedClient()
        self.client = queued.KeyedClient(self.http, WHO, key=api_key, base_url=base_url, header="x-key")
        self.catalogue = catalogue or load()
        self.deadline_s, self.poll_interval_s = deadline_s, poll_interval_s
        self.max_attempts, self.retry_budget_s, self.backoff_s = max_attempts, retry_budget_s, backoff_s
        self.capabilities = Capabilities(
            name=self.name,
            operations=ARGUMENTS,
            default_models={op: self.catalogue.defaults[op] for op in ARGUMENTS},
            max_images=4,
            key_variables=(WHO.key_variable,),
            notes="FLUX: submit, then poll the returned polling_url; no cancel endpoint",
        )

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> BFLProvider:
        env = settings.provider_env
        return cls(
            http,
            api_key=env.get("BFL_API_KEY") or None,
            base_url=env.get("BFL_BASE_URL") or DEFAULT_BASE_URL,
            deadline_s=settings.request_timeout_s,
            max_attempts=settings.max_attempts,
            retry_budget_s=settings.retry_budget_s,
            backoff_s=settings.retry_backoff_s,
        )

    @property
    def configured(self) -> bool:
        return bool(self.client.key)

    @property
    def origin(self) -> str | None:
        return self.client.origin

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ run

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        self.client.require_key()
        plan = await self.plan(request)
        result = ProviderResult([], plan.model.id, self.name, metadata={"operation": request.operation})
        if plan.notes:
            result.metadata["mapping"] = plan.notes
        ids: list[str] = []
        for _ in range(request.n):
            try:
                with call.attempt(self.name, plan.model.id) as attempt:
                    job, image, cost = await self._task(plan, call)
                    attempt.succeeded(cost, job)
            except e.ProviderError as exc:
                if not result.images:
                    raise
                result.partial_error = exc  # the images already made are billed and kept
                break
            ids.append(job)
            result.images.append(image)
            if cost is not None:
                result.cost_usd = round((result.cost_usd or 0.0) + cost, 6)
        result.generation_id = ids[0] if ids else None
        result.metadata["task_ids"] = ids
        return result

    async def _task(self, plan: Plan, call: Call) -> tuple[str, ProviderImage, float | None]:
        """Submit one task, poll its polling_url, download its sample at once."""
        submitted = await retrying(
            functools.partial(self._submit, plan),
            max_attempts=self.max_attempts,
            budget_s=self.retry_budget_s,
            backoff_s=self.backoff_s,
        )
        job = str(submitted.get("id") or "")
        polling_url = self.client.followed(submitted.get("polling_url"), "polling_url")
        answer_cost = submitted.get("cost")
        credits = (
            float(answer_cost)
            if isinstance(answer_cost, int | float)
            else plan.model.credits_for(plan.width, plan.height)
        )
        cost = round(credits * self.catalogue.credit_usd, 6) if credits is not None else None

        async def check() -> PollStatus[str]:
            return self._status(await self.client.call("GET", polling_url), plan.model.id, job)

        sample = await poll(
            check,
            label=f"BFL {plan.model.id} task {job}",
            deadline_s=self.deadline_s,
            progress=call.progress,
            interval_s=self.poll_interval_s,
            max_interval_s=5.0,
        )
        sample_url = self.client.followed(sample, "result.sample URL")
        image = await self.client.fetch(sample_url, cost_usd=cost, generation_id=job)
        return job, image, cost

    async def _submit(self, plan: Plan) -> dict[str, Any]:
        answer = await self.client.call("POST", f"{self.client.base}/v1/{plan.model.id}", plan.body)
        if answer.status != 200:
            raise self.client.error(answer, model=plan.model.id)
        if not isinstance(answer.body, dict):
            raise self.client.not_json(f"/v1/{plan.model.id}")
        return answer.body

    def _status(self, answer: queued.Answer, model: str, job: str) -> PollStatus[str]:
        """One ``get_result`` answer → keep polling, the sample URL, or the error it means."""
        if answer.status != 200:
            raise self.client.error(answer, model=model, job=job)
        body = answer.body
        if not isinstance(body, dict):
            raise self.client.not_json("get_result", job=job)
        status = str(body.get("status") or "")
        details = self.client.redacted(json.dumps(body.get("details"))[:300]) if body.get("details") else ""
        if status == "Ready":
            result = body.get("result")
            sample = result.get("sample") if isinstance(result, dict) else None
            return PollStatus(done=True, result=sample if isinstance(sample, str) and sample else "")
        if status in ("Pending", "Queued", "Processing"):
            fraction = body.get("progress")
            return PollStatus(
                False,
                message=f"BFL {model}: {status.lower()}",
                fraction=float(fraction) if isinstance(fraction, int | float) else None,
            )
        if status in ("Request Moderated", "Content Moderated"):
            what = "the prompt or an input image" if status == "Request Moderated" else "the generated image"
            raise e.ModerationError(
                f"Black Forest Labs refused task {job} ({status}): {what} was flagged by its moderation"
                + (f" — {details}" if details else "")
                + "; nothing was charged",
                "rephrase the prompt (or change the input image) without the flagged content; another provider "
                "is not tried after a refusal",
                reasons=[status],
                generation_id=job,
            )
        if status == "Task not found":
            raise e.ProviderDownError(
                f"Black Forest Labs does not know task {job} (Task not found: unknown or expired)",
                "retry; if it persists, check BFL_BASE_URL",
                code="task_not_found",
                generation_id=job,
            )
        if status == "Error":
            raise e.ProviderDownError(
                f"Black Forest Labs task {job} failed (Error{': ' + details if details else ''}); not charged",
                "retry in a moment",
                code="generation_failed",
                generation_id=job,
            )
        raise e.InvalidResponseError(
            f"Black Forest Labs answered get_result with an unknown status {status[:60]!r}",
            "retry; if it persists, report it",
            generation_id=job,
        )

    # ------------------------------------------------------------------ mapping

    def model_for(self, request: ProviderRequest) -> tuple[Model, list[str]]:
        """The endpoint for this operation: the requested model when it does it, else refused."""
        op = request.operation
        notes: list[str] = []
        model = self.catalogue.models.get(request.model)
        if model is None:
            raise e.ModelNotFoundError(
                f"{request.model!r} is not a Black Forest Labs endpoint this server knows (nothing was sent)",
                f"use one of: {', '.join(self.catalogue.models)} (or leave model unset)",
            )
        needs_inputs = op == "generate" and bool(request.input_images)
        if needs_inputs and model.max_inputs == 0 and request.model == self.catalogue.defaults["generate"]:
            model = self.catalogue.models[self.catalogue.defaults["references"]]
            notes.append(f"input images: sent to {model.id} (flux-pro-1.1 takes none)")
        if op not in model.operations or (needs_inputs and model.max_inputs == 0):
            able = [
                m.id
                for m in self.catalogue.models.values()
                if op in m.operations and (not needs_inputs or m.max_inputs)
            ]
            raise e.BadRequestError(
                f"{model.id} cannot do {op}{' with input images' if needs_inputs else ''}; nothing was sent",
                f"use model='{able[0]}'" if able else "use another provider",
            )
        return model, notes

    async def plan(self, request: ProviderRequest) -> Plan:
        """The task body for ``request`` (input images as base64 or URL, as each endpoint takes them)."""
        model, notes = self.model_for(request)
        op, prompt = request.operation, request.prompt
        if request.output_format == "webp":
            raise e.BadRequestError(
                "Black Forest Labs makes jpeg or png, not webp; nothing was sent", "pass output_format='png' or 'jpeg'"
            )
        body: dict[str, Any] = {"seed": request.seed, "output_format": request.output_format}
        plan = Plan(model, body, notes=notes)
        self._size(request, plan)
        images = list(request.input_images)
        style = request.options.get("style_image")
        if op == "style_transfer":
            if not isinstance(style, str):
                raise e.BadRequestError("style_transfer needs a style image; nothing was sent", "pass style_image")
            images = [images[0], style]
            prompt = _join(STYLE, prompt)
        if op in ("generate", "edit", "style_transfer") and images:
            if len(images) > model.max_inputs:
                raise e.BadRequestError(
                    f"{len(images)} input images; {model.id} takes at most {model.max_inputs}; nothing was sent",
                    "send fewer references, or use model='flux-2-pro' (up to 8)",
                )
            for i, ref in enumerate(images):
                body["input_image" if i == 0 else f"input_image_{i + 1}"] = queued.raw_base64(ref) or ref
            level = request.options.get("consistency")
            if level in CONSISTENCY and len(images) > (1 if op == "edit" else 0):
                prompt = _join(prompt, CONSISTENCY[level])
                notes.append(f"consistency {level}: an instruction in the prompt")
        elif op in ("inpaint", "erase"):
            if request.mask is None:
                raise e.BadRequestError(f"{op} needs a mask; nothing was sent", "pass mask (or mask_box)")
            body["image"] = await self._b64(images[0])
            body["mask"] = await self._b64(request.mask)  # BFL's polarity is ours: white = change
            if op == "erase":
                prompt = _join(ERASE, prompt)
        elif op == "outpaint":
            expand = request.options.get("expand") or {}
            sides = {"left": "left", "right": "right", "up": "top", "down": "bottom"}
            for ours, theirs in sides.items():
                value = int(expand.get(ours) or 0)
                if not 0 <= value <= 2048:
                    raise e.BadRequestError(
                        f"expand.{ours}={value}: Black Forest Labs takes 0–2048 px per side; nothing was sent",
                        f"pass expand.{ours} of at most 2048",
                    )
                body[theirs] = value
            body["image"] = await self._b64(images[0])
            prompt = _join(OUTPAINT, prompt)
        elif op == "variation":
            body["image_prompt"] = await self._b64(images[0])
            strength = request.options.get("strength")
            body["image_prompt_strength"] = round(1 - float(strength), 3) if strength is not None else 0.5
            prompt = prompt or VARIATION
        body["prompt"] = prompt
        plan.body = {k: v for k, v in body.items() if v is not None}
        return plan

    def price_per_image(self, request: ProviderRequest) -> float | None:
        """USD for one image of ``request`` as it would be sent (for the estimate before a call; costs.py);
        None when the endpoint has no price or the request would be refused."""
        try:
            model, _ = self.model_for(request)
        except e.ProviderError:
            return None
        width, height = _dimensions(model, request) or (None, None)
        credits = model.credits_for(width, height)
        return round(credits * self.catalogue.credit_usd, 6) if credits is not None else None

    def _size(self, request: ProviderRequest, plan: Plan) -> None:
        model, ratio, size = plan.model, request.aspect_ratio, request.image_size
        found = _dimensions(model, request)
        if found is not None:
            plan.width, plan.height = found
            plan.body.update(width=plan.width, height=plan.height)
            return
        if size is not None:
            raise e.BadRequestError(
                f"{model.id} has a fixed output size, so image_size cannot be honoured; nothing was sent",
                "drop image_size, or use model='flux-pro-1.1' / 'flux-2-pro'",
            )
        if ratio is not None and model.size == "aspect":
            w, h = (float(p) for p in ratio.split(":"))
            if not ASPECT_RANGE[0] - 1e-9 <= w / h <= ASPECT_RANGE[1] + 1e-9:
                raise e.BadRequestError(
                    f"aspect_ratio {ratio} is outside what {model.id} makes (21:9 to 9:21); nothing was sent",
                    "pass an aspect_ratio between 21:9 and 9:21",
                )
            plan.body["aspect_ratio"] = ratio

    async def _b64(self, ref: str) -> str:
        """Base64 for endpoints that take no URL (fill, expand, ultra's image_prompt)."""
        import base64

        return queued.raw_base64(ref) or base64.b64encode(await self.client.input_bytes(ref)).decode()

    # ------------------------------------------------------------------ models, preflight

    async def models(self) -> list[ModelInfo]:
        return [ModelInfo(m.id, m.operations) for m in self.catalogue.models.values()]

    async def knows_model(self, model: str) -> bool:
        return model in self.catalogue.models

    async def check(self, model: str | None) -> list[PreflightCheck]:
        key = self.client.key
        checks = [
            PreflightCheck(
                name="api_key_present",
                ok=bool(key),
                detail=f"BFL_API_KEY is set ({e.mask_secret(key)})" if key else "BFL_API_KEY is not set",
                fix=None if key else "export BFL_API_KEY=…",
            )
        ]
        if model is not None and model not in self.catalogue.models:
            checks.append(
                PreflightCheck(
                    name="model",
                    ok=False,
                    detail=f"{model} is not a known FLUX endpoint",
                    fix=f"use one of: {', '.join(self.catalogue.models)}",
                )
            )
        return checks


def _dimensions(model: Model, request: ProviderRequest) -> tuple[int, int] | None:
    """``width``/``height`` for the endpoints that take them, when the request sets a shape or size."""
    ratio, size = request.aspect_ratio, request.image_size
    if model.size not in ("wh32", "wh16") or not (ratio or size):
        return None
    edge = LONG_EDGE[model.size][size or "medium"]
    return queued.dimensions(ratio, edge, 32 if model.size == "wh32" else 16, max_pixels=4_000_000)


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
