"""The ``fal`` provider: fal.ai's queue API (``reference/providers.md`` §4), hand-written.

``POST {FAL_QUEUE_URL}/{endpoint id}`` (header ``Authorization: Key …``) answers ``{request_id,
status_url, response_url, cancel_url, queue_position}``. Those returned URLs are used (they are
absolute; followed only over ``https`` or on the configured origin — DESIGN: provider URLs); when
the answer lacks one it is built **without the endpoint's sub-path** — the trap: status, result and
cancel of ``fal-ai/flux/dev/image-to-image`` live under ``fal-ai/flux/requests/{id}``. Status
(``?logs=1``) answers ``IN_QUEUE`` + ``queue_position``, ``IN_PROGRESS`` + ``logs``, ``COMPLETED``;
position and the last log line become MCP progress. The result is the model's JSON (``images[]``,
or ``image`` for upscalers); its URLs are downloaded at once. A host cancel mid-poll (or the
deadline) sends ``PUT cancel_url``.

Errors: 422 ``detail`` names the argument; ``type: content_policy_violation`` (submit or result) is a
moderation refusal — no fallback; ``has_nsfw_concepts`` flags drop those images (all flagged: a
refusal, billed). Other statuses go through the shared table (401/403 key, 402, 429, 5xx).

Which endpoint does what (``data/fal_models.json``; the README's fal section has the same table):

===================  ===========================================================================
``generate``         fal-ai/flux/dev; a baseline alone: flux/dev/image-to-image; references (or
                     ``consistency``): fal-ai/flux-pulid (one face) or fal-ai/pulid (several)
``edit``             flux/dev/image-to-image (``strength``); kontext / kontext/max by ``model``;
                     the image plus references: kontext/multi (``image_urls``)
``inpaint/erase``    flux-pro/v1/fill (``image_url``, ``mask_url``: ours, white = change)
``outpaint``         flux-pro/v1/fill on :func:`imaging.masks.outpaint_canvas` (canvas + border mask)
``variation``        flux/dev/redux (no prompt: a prompt is refused)
``style_transfer``   kontext/multi: the content image then the style image, with an instruction
                     (redux takes one image and no content: it would drop the picture)
``upscale``          ``fast``: fal-ai/esrgan (``scale``); ``conservative``/``creative``:
                     fal-ai/clarity-upscaler (creativity 0.1/0.6, resemblance 0.9/0.4, the prompt)
``image_size``       long edge 512/1024/1536 → ``image_size: {width, height}`` with ``aspect_ratio``;
                     an aspect ratio alone → the matching preset (``landscape_16_9``…) or a size
``consistency``      pulid ``id_weight``/``id_scale``: strict 1.0, balanced 0.8, loose 0.5; kontext/multi:
                     a sentence in the prompt
``seed``, ``output_format``, ``n``  ``seed``, ``output_format`` (jpeg/png), ``num_images``
===================  ===========================================================================

Input images go as they are: an https URL, or the data URI of a local file (fal takes data URIs).
Cost: only documented prices (flux/dev and its image-to-image: $0.025 per started megapixel of each output
image, a megapixel being 1024×1024 px, fal's ``square_hd``); every other endpoint reports no cost
(``cost not reported``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, NoReturn

import anyio.to_thread

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers import queued
from imagegen_mcp.providers.base import Call, Capabilities, ModelInfo, Operation, ProviderRequest, ProviderResult
from imagegen_mcp.providers.http import SharedClient, retrying
from imagegen_mcp.providers.openai_operations import CONSISTENCY, ERASE, OUTPAINT, STYLE
from imagegen_mcp.providers.polling import PollStatus, poll

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings

DEFAULT_QUEUE_URL = "https://queue.fal.run"
WHO = queued.Who("fal", "fal.ai", "FAL_KEY", "FAL_QUEUE_URL", "…:…")
COMMON = frozenset({"seed", "output_format", "n", "input_images"})
ARGUMENTS: dict[Operation, frozenset[str]] = {
    "generate": COMMON | {"image_size", "aspect_ratio", "consistency"},
    "edit": COMMON | {"image_size", "aspect_ratio", "strength", "consistency"},
    "inpaint": COMMON | {"mask"},
    "erase": COMMON | {"mask"},
    "outpaint": COMMON | {"expand", "aspect_ratio"},
    "variation": frozenset({"seed", "n", "input_images", "image_size", "aspect_ratio"}),
    "style_transfer": COMMON | {"style_image", "aspect_ratio"},
    "upscale": frozenset({"input_images", "scale", "mode", "seed"}),
}
PRESETS = {
    "1:1": "square_hd",
    "4:3": "landscape_4_3",
    "16:9": "landscape_16_9",
    "3:4": "portrait_4_3",
    "9:16": "portrait_16_9",
}
PRESET_SIZES = {
    "square_hd": (1024, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
}
LONG_EDGE = {"low": 512, "medium": 1024, "high": 1536}
ID_WEIGHT = {"strict": 1.0, "balanced": 0.8, "loose": 0.5}
MEGAPIXEL = 1024 * 1024  # fal's unit: its square_hd preset (1024x1024) is one megapixel
CLARITY = {"conservative": (0.1, 0.9), "creative": (0.6, 0.4)}  # (creativity, resemblance)


@dataclass(frozen=True)
class Model:
    id: str
    kind: str
    operations: frozenset[Operation]
    size: str
    n: bool
    usd_per_mp: float | None = None
    max_references: int = 0


@dataclass
class Plan:
    model: Model
    body: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def load() -> tuple[dict[str, Model], dict[str, str]]:
    data = json.loads(resources.files("imagegen_mcp.providers").joinpath("data/fal_models.json").read_text("utf-8"))
    models = {
        mid: Model(
            mid,
            m["kind"],
            frozenset(m["operations"]),
            m["size"],
            m["n"],
            m.get("usd_per_mp"),
            m.get("max_references", 0),
        )
        for mid, m in data["models"].items()
    }
    return models, dict(data["defaults"])


def app_path(endpoint: str) -> str:
    """``owner/alias`` of an endpoint id — the sub-path dropped (``workflows/``, ``comfy/`` keep one more)."""
    parts = endpoint.strip("/").split("/")
    keep = 3 if parts[0] in ("workflows", "comfy") else 2
    return "/".join(parts[:keep])


class FalProvider:
    name = "fal"

    def __init__(
        self,
        http: SharedClient | None = None,
        *,
        api_key: str | None,
        queue_url: str = DEFAULT_QUEUE_URL,
        deadline_s: float = 180.0,
        poll_interval_s: float = 0.5,
        max_attempts: int = 3,
        retry_budget_s: float = 30.0,
        backoff_s: float = 1.0,
    ) -> None:
        self._owns_http = http is None
        self.http = http or SharedClient()
        self.client = queued.KeyedClient(
            self.http, WHO, key=api_key, base_url=queue_url, header="Authorization", scheme="Key "
        )
        self.catalogue, self.defaults = load()
        self.deadline_s, self.poll_interval_s = deadline_s, poll_interval_s
        self.max_attempts, self.retry_budget_s, self.backoff_s = max_attempts, retry_budget_s, backoff_s
        self.capabilities = Capabilities(
            name=self.name,
            operations=ARGUMENTS,
            default_models={op: self.defaults[op] for op in ARGUMENTS},
            max_images=4,
            key_variables=("FAL_KEY", "FAL_API_KEY"),
            notes="fal queue API: submit, status (queue position, logs), result, cancel",
        )

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> FalProvider:
        env = settings.provider_env
        return cls(
            http,
            api_key=env.get("FAL_KEY") or env.get("FAL_API_KEY") or None,
            queue_url=env.get("FAL_QUEUE_URL") or DEFAULT_QUEUE_URL,
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
        with call.attempt(self.name, plan.model.id) as attempt:
            result = await self._job(plan, call)
            attempt.succeeded(result.cost_usd, result.generation_id)
        result.metadata.update(operation=request.operation, endpoint=plan.model.id)
        if plan.notes:
            result.metadata["mapping"] = plan.notes
        return result

    async def _job(self, plan: Plan, call: Call) -> ProviderResult:
        model = plan.model
        submitted = await retrying(
            functools.partial(self._submit, plan),
            max_attempts=self.max_attempts,
            budget_s=self.retry_budget_s,
            backoff_s=self.backoff_s,
        )
        job = str(submitted.get("request_id") or "")
        built = f"{self.client.base}/{app_path(model.id)}/requests/{job}"
        cancel_url = f"{built}/cancel"

        async def cancel() -> None:
            await self.client.call("PUT", cancel_url)

        try:
            cancel_url = self._url(submitted, "cancel_url", f"{built}/cancel")
            status_url = self._url(submitted, "status_url", f"{built}/status")
            response_url = self._url(submitted, "response_url", built)
        except e.ProviderError as exc:
            exc.generation_id = job
            await cancel()  # the job is queued: stop it on the configured origin rather than pay for it
            raise

        async def check() -> PollStatus[dict[str, Any]]:
            sep = "&" if "?" in status_url else "?"
            return self._status(await self.client.call("GET", f"{status_url}{sep}logs=1"), model.id, job)

        await poll(
            check,
            label=f"fal {model.id} request {job}",
            deadline_s=self.deadline_s,
            cancel=cancel,
            progress=call.progress,
            interval_s=self.poll_interval_s,
            max_interval_s=5.0,
        )
        answer = await self.client.call("GET", response_url)
        if answer.status != 200:
            raise self._error(answer, model.id, job)
        if not isinstance(answer.body, dict):
            raise self.client.not_json("the result", job=job)
        return await self._result(answer.body, model, job)

    def _url(self, submitted: dict[str, Any], key: str, built: str) -> str:
        returned = submitted.get(key)
        return self.client.followed(returned, key) if returned else built

    async def _submit(self, plan: Plan) -> dict[str, Any]:
        answer = await self.client.call("POST", f"{self.client.base}/{plan.model.id}", plan.body)
        if answer.status not in (200, 201, 202):
            raise self._error(answer, plan.model.id, None)
        if not isinstance(answer.body, dict) or not answer.body.get("request_id"):
            raise self.client.not_json(f"/{plan.model.id} (no request_id)")
        return answer.body

    def _status(self, answer: queued.Answer, model: str, job: str) -> PollStatus[dict[str, Any]]:
        if answer.status not in (200, 202):
            raise self._error(answer, model, job)
        body = answer.body
        if not isinstance(body, dict):
            raise self.client.not_json("the status", job=job)
        status = body.get("status")
        if status == "COMPLETED":
            return PollStatus(True, result=body)
        if status == "IN_QUEUE":
            position = body.get("queue_position")
            return PollStatus(
                False, message=f"fal {model}: queued" + (f" (position {position})" if isinstance(position, int) else "")
            )
        if status == "IN_PROGRESS":
            logs = body.get("logs")
            last = logs[-1].get("message") if isinstance(logs, list) and logs and isinstance(logs[-1], dict) else None
            said = f": {self.client.redacted(str(last))[:120]}" if last else ""
            return PollStatus(False, message=f"fal {model}: running{said}")
        raise e.InvalidResponseError(
            f"fal.ai answered the status with an unknown status {str(status)[:40]!r}",
            "retry; if it persists, report it",
            generation_id=job,
        )

    def _error(self, answer: queued.Answer, model: str, job: str | None) -> e.ProviderError:
        if "content_policy_violation" in queued.detail_types(answer.body):
            text = self.client.redacted(queued.detail_text(answer.body))[:300]
            return e.ModerationError(
                f"fal.ai refused the request (content_policy_violation): {text}",
                "rephrase the prompt (or change the input image) without the flagged content; another provider "
                "is not tried after a refusal",
                reasons=["content_policy_violation"],
                status=answer.status,
                generation_id=job,
            )
        return self.client.error(answer, model=model, job=job)

    async def _result(self, body: dict[str, Any], model: Model, job: str) -> ProviderResult:
        raw_images, raw_flags = body.get("images"), body.get("has_nsfw_concepts")
        items: list[Any] = raw_images if isinstance(raw_images, list) else [body.get("image")]
        flags: list[Any] = raw_flags if isinstance(raw_flags, list) else []
        kept = [
            item
            for i, item in enumerate(items)
            if isinstance(item, dict) and item.get("url") and not (i < len(flags) and flags[i] is True)
        ]
        cost = self._cost(model, items)
        if not kept:
            if any(f is True for f in flags):
                raise e.ModerationError(
                    f"fal.ai's safety checker flagged every image of request {job} (has_nsfw_concepts)",
                    "rephrase the prompt without the flagged content; another provider is not tried after a refusal",
                    reasons=["has_nsfw_concepts"],
                    cost_usd=cost,
                    generation_id=job,
                )
            raise e.NoImageError(
                f"fal.ai answered request {job} with no image",
                "retry, or rephrase the prompt",
                cost_usd=cost,
                generation_id=job,
            )
        result = ProviderResult([], model.id, self.name, job, cost)
        for item in kept:
            url = self.client.followed(item["url"], "result image URL")
            result.images.append(await self.client.fetch(url, cost_usd=cost, generation_id=job))
        dropped = len(items) - len(kept)
        if dropped:
            result.metadata["nsfw_dropped"] = dropped
        result.metadata.update(request_id=job, seed=body.get("seed"), timings=body.get("timings"))
        return result

    @staticmethod
    def _cost(model: Model, items: list[Any]) -> float | None:
        if model.usd_per_mp is None:
            return None
        total = 0.0
        for item in items:
            width = item.get("width") if isinstance(item, dict) else None
            height = item.get("height") if isinstance(item, dict) else None
            pixels = width * height if isinstance(width, int) and isinstance(height, int) else 1024 * 768
            total += model.usd_per_mp * max(1, math.ceil(pixels / MEGAPIXEL))
        return round(total, 6)

    # ------------------------------------------------------------------ mapping

    def model_for(self, request: ProviderRequest) -> tuple[Model, list[str]]:
        """The endpoint: the requested one when it does the operation; the operation's default swaps in the
        variant its inputs need (a baseline, references, a detailed upscale, several edit images)."""
        op, chosen, notes = request.operation, request.model, []
        images = len(request.input_images)
        swap = None
        if chosen == self.defaults["generate"] and op == "generate" and images:
            faces = images > 1 or request.options.get("consistency") is not None
            swap = (
                (self.defaults["references"] if images > 1 else self.defaults["reference"])
                if faces
                else (self.defaults["baseline"])
            )
        elif chosen == self.defaults["edit"] and op == "edit" and images > 1:
            swap = self.defaults["style_transfer"]  # kontext/multi takes the image and its references
        elif chosen == self.defaults["upscale"] and op == "upscale" and request.options.get("mode") in CLARITY:
            swap = self.defaults["upscale_detailed"]
        if swap is not None:
            notes.append(f"{chosen} → {swap} for these inputs")
            chosen = swap
        model = self.catalogue.get(chosen)
        if model is None:
            raise e.ModelNotFoundError(
                f"{chosen!r} is not a fal endpoint this server knows (nothing was sent)",
                f"use one of: {', '.join(self.catalogue)} (or leave model unset)",
            )
        if op not in model.operations:
            able = [m.id for m in self.catalogue.values() if op in m.operations]
            raise e.BadRequestError(
                f"{model.id} cannot do {op}; nothing was sent",
                f"use model='{able[0]}'" if able else "use another provider",
            )
        return model, notes

    async def plan(self, request: ProviderRequest) -> Plan:
        model, notes = self.model_for(request)
        op, kind = request.operation, model.kind
        refuse = _refuser(model)
        if request.output_format == "webp":
            refuse("fal's FLUX endpoints make jpeg or png, not webp", "pass output_format='png' or 'jpeg'")
        if request.n > 1 and not model.n:
            refuse(f"{model.id} makes one image per call", "pass n=1")
        body: dict[str, Any] = {
            "prompt": request.prompt or None,
            "seed": request.seed,
            "output_format": request.output_format,
            "num_images": request.n if model.n and request.n > 1 else None,
        }
        self._size(request, model, body)
        images = list(request.input_images)
        strength = request.options.get("strength")
        if strength is not None and kind != "i2i":
            refuse(f"{model.id} takes no strength", "drop strength, or use model='fal-ai/flux/dev/image-to-image'")
        level = request.options.get("consistency")
        if level is not None and kind not in ("flux_pulid", "pulid", "kontext_multi"):
            refuse(f"{model.id} takes no consistency", "drop consistency, or pass references")
        if kind == "i2i":
            body.update(image_url=images[0], strength=strength)
        elif kind == "kontext":
            body["image_url"] = images[0]
        elif kind == "kontext_multi":
            style = request.options.get("style_image")
            urls = [images[0], style] if op == "style_transfer" and isinstance(style, str) else images
            body["image_urls"] = urls
            if op == "style_transfer":
                body["prompt"] = _join(STYLE, request.prompt)
            elif level in CONSISTENCY:  # kontext has no identity weight: the level is an instruction
                body["prompt"] = _join(request.prompt, CONSISTENCY[level])
                notes.append(f"consistency {level}: an instruction in the prompt")
        elif kind in ("flux_pulid", "pulid"):
            if len(images) > model.max_references:
                refuse(
                    f"{len(images)} references; {model.id} takes at most {model.max_references}",
                    "send fewer references, or use model='fal-ai/pulid' (up to 4)",
                )
            weight = ID_WEIGHT[level or "balanced"]
            if kind == "flux_pulid":
                body.update(reference_image_url=images[0], id_weight=weight)
            else:
                body.update(
                    reference_images=[{"image_url": ref} for ref in images],
                    id_scale=weight,
                    mode="extreme style" if level == "loose" else "fidelity",
                )
            notes.append(f"consistency {level or 'balanced'}: identity weight {weight}")
        elif kind == "fill":
            await self._fill(request, body, refuse)
        elif kind == "redux":
            if request.prompt:
                refuse("fal-ai/flux/dev/redux takes no prompt", "call variation without a prompt")
            body["image_url"] = images[0]
        elif kind in ("esrgan", "clarity", "aura"):
            self._upscale(request, model, body, images[0], refuse)
        return Plan(model, {k: v for k, v in body.items() if v is not None}, notes)

    async def _fill(
        self, request: ProviderRequest, body: dict[str, Any], refuse: Callable[[str, str], NoReturn]
    ) -> None:
        image = request.input_images[0]
        if request.operation == "outpaint":
            data = await self.client.input_bytes(image)
            expand = masks.checked_expand(request.options.get("expand") or {})
            canvas = await anyio.to_thread.run_sync(masks.outpaint_canvas, data, expand)
            body.update(
                image_url=_data_uri(canvas.image),
                mask_url=_data_uri(canvas.mask),
                prompt=_join(OUTPAINT, request.prompt),
            )
            return
        if request.mask is None:
            refuse(f"{request.operation} needs a mask", "pass mask (or mask_box)")
        body.update(image_url=image, mask_url=request.mask)  # fal's mask is ours: white = change
        if request.operation == "erase":
            body["prompt"] = _join(ERASE, request.prompt)
        elif not request.prompt:
            refuse("inpaint needs a prompt saying what goes in the masked area", "pass prompt")

    @staticmethod
    def _upscale(
        request: ProviderRequest, model: Model, body: dict[str, Any], image: str, refuse: Callable[[str, str], NoReturn]
    ) -> None:
        scale = int(request.options.get("scale") or 2)
        mode = request.options.get("mode") or "fast"
        body["image_url"] = image
        body.pop("prompt", None)
        if model.kind == "esrgan":
            if mode != "fast":
                refuse(
                    f"fal-ai/esrgan is a plain upscaler: mode={mode} cannot be honoured",
                    "leave model unset (clarity-upscaler takes conservative/creative), or pass mode='fast'",
                )
            body.update(scale=scale, model="RealESRGAN_x4plus")
            body.pop("seed", None)
        elif model.kind == "aura":
            if scale != 4 or mode != "fast":
                refuse("fal-ai/aura-sr upscales 4x, mode fast only", "pass scale=4 and mode='fast'")
            body.update(upscale_factor=4)
            body.pop("seed", None)
        else:
            creativity, resemblance = CLARITY.get(mode, CLARITY["conservative"])
            body.update(
                upscale_factor=scale, creativity=creativity, resemblance=resemblance, prompt=request.prompt or None
            )

    def price_per_image(self, request: ProviderRequest) -> float | None:
        """USD for one image of ``request`` as it would be sent (for the estimate before a call; costs.py);
        None when the endpoint has no documented price or the request would be refused."""
        try:
            model, _ = self.model_for(request)
        except e.ProviderError:
            return None
        if model.usd_per_mp is None:
            return None
        body: dict[str, Any] = {}
        try:
            self._size(request, model, body)
        except e.ProviderError:
            return None
        size = body.get("image_size")
        width, height = (
            (size["width"], size["height"]) if isinstance(size, dict) else PRESET_SIZES.get(str(size), (1024, 768))
        )
        return self._cost(model, [{"width": width, "height": height}])

    @staticmethod
    def _size(request: ProviderRequest, model: Model, body: dict[str, Any]) -> None:
        ratio, size = request.aspect_ratio, request.image_size
        if model.size == "preset" and (ratio or size):
            if size is None and ratio in PRESETS:
                body["image_size"] = PRESETS[ratio]
            else:
                width, height = queued.dimensions(ratio, LONG_EDGE[size or "medium"], 16)
                body["image_size"] = {"width": width, "height": height}
        elif model.size == "aspect" and ratio is not None and request.operation != "outpaint":
            body["aspect_ratio"] = ratio
        elif size is not None:
            _refuser(model)(f"{model.id} has no image_size", "drop image_size")

    # ------------------------------------------------------------------ models, preflight

    async def models(self) -> list[ModelInfo]:
        return [ModelInfo(m.id, m.operations) for m in self.catalogue.values()]

    async def knows_model(self, model: str) -> bool:
        return model in self.catalogue

    async def check(self, model: str | None) -> list[PreflightCheck]:
        key = self.client.key
        checks = [
            PreflightCheck(
                name="api_key_present",
                ok=bool(key),
                detail=f"FAL_KEY is set ({e.mask_secret(key)})" if key else "FAL_KEY is not set",
                fix=None if key else "export FAL_KEY=… (or FAL_API_KEY)",
            )
        ]
        if model is not None and model not in self.catalogue:
            checks.append(
                PreflightCheck(
                    name="model",
                    ok=False,
                    detail=f"{model} is not a known fal endpoint",
                    fix=f"use one of: {', '.join(self.catalogue)}",
                )
            )
        return checks


def _refuser(model: Model) -> Callable[[str, str], NoReturn]:
    def refuse(what: str, fix: str) -> NoReturn:
        raise e.BadRequestError(f"{what} ({model.id}); nothing was sent", fix)

    return refuse


def _data_uri(data: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(data).decode()


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
