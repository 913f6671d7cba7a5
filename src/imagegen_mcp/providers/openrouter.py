"""The OpenRouter provider: a thin, hand-written client over ``httpx2``.

Two surfaces (``reference/openrouter-api.md`` §3–4):

- ``POST /images`` — the Image API, OpenRouter's canonical image path;
- ``POST /chat/completions`` with ``modalities`` — for models the Image API does not serve.

Which one a model uses is learnt from ``GET /images/models`` (cached for the life of the
process): a model listed there goes to the Image API, anything else to chat. ``surface`` on the
request overrides it. Chat ``modalities`` come from ``GET /models?output_modalities=image``:
``["image"]`` for image-only models, ``["image", "text"]`` otherwise.

``image_size`` (``low | medium | high``) and ``aspect_ratio`` map to each family's native
parameters (see :func:`image_api_params` and :func:`chat_image_config`; the README has the table).

Retries: only :class:`~imagegen_mcp.errors.RetryableError` (408, 429, 5xx, connection failures),
at most ``max_attempts`` tries, within ``retry_budget_s`` in total, with jittered exponential
backoff that honours ``Retry-After``. A wait longer than what is left of the budget is not slept:
the error is raised at once with its ``retry_after`` so the queue can schedule it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from imagegen_mcp import errors as e
from imagegen_mcp.models import ImageSize, PreflightCheck
from imagegen_mcp.providers import openrouter_operations as ops
from imagegen_mcp.providers import openrouter_wire as wire
from imagegen_mcp.providers.base import (
    Call,
    Capabilities,
    ModelInfo,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
    origin_of,
)
from imagegen_mcp.providers.http import Endpoint, Reply, SharedClient, json_of, recorded_retries, send, str_or_none

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings

RESOLUTION = {"low": "1K", "medium": "2K", "high": "4K"}


def image_api_params(model: str, size: ImageSize | None, supported: Mapping[str, Any]) -> dict[str, Any]:
    """``image_size`` on the Image API: ``resolution`` where supported, else OpenAI's ``quality``."""
    if size is None:
        return {}
    if "resolution" in supported or (not supported and not model.startswith("openai/")):
        return {"resolution": RESOLUTION[size]}
    if "quality" in supported or model.startswith("openai/"):
        return {"quality": size}
    return {}


def chat_image_config(model: str, size: ImageSize | None, aspect_ratio: str | None) -> dict[str, Any]:
    """``image_config`` on chat: Gemini takes ``image_size`` 1K/2K/4K, OpenAI takes ``quality``."""
    config: dict[str, Any] = {}
    if aspect_ratio:
        config["aspect_ratio"] = aspect_ratio
    if size is not None:
        if model.startswith("openai/"):
            config["quality"] = size
        else:
            config["image_size"] = RESOLUTION[size]
    return config


# The model remove_background uses when none is named: one that makes a real alpha channel (Image API).
TRANSPARENT_DEFAULT = "openai/gpt-image-1"


# Attempts whose answer was lost after OpenRouter had billed them: their cost is looked up by id.
LOST_ANSWER_CODES = frozenset({"connection_failed", "timeout", "invalid_response"})


class OpenRouterProvider:
    def __init__(
        self,
        http: SharedClient | None = None,
        *,
        api_key: str | None,
        base_url: str,
        default_model: str = "google/gemini-3.1-flash-image-preview",
        app_url: str = "",
        app_title: str = "imagegen-mcp",
        max_attempts: int = 3,
        retry_budget_s: float = 90.0,
        backoff_s: float = 1.0,
        timeout_s: float = 180.0,
    ) -> None:
        self._owns_http = http is None
        self.http = http or SharedClient(timeout_s)
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._endpoint = Endpoint("OpenRouter", self._base, "OPENROUTER_BASE_URL", id_header="x-generation-id")
        self._app_headers = {"HTTP-Referer": app_url, "X-OpenRouter-Title": app_title, "X-Title": app_title}
        self.capabilities = Capabilities(
            name="openrouter",
            operations=ops.ARGUMENTS,
            default_models={
                op: TRANSPARENT_DEFAULT if op == "remove_background" else default_model for op in ops.ARGUMENTS
            },
            max_images=4,
            key_variables=("OPENROUTER_API_KEY",),
            notes="OpenRouter Image API and chat completions with image output (surfaces: images, chat); "
            "edits by instruction",
        )
        self.max_attempts = max_attempts
        self.retry_budget_s = retry_budget_s
        self.backoff_s = backoff_s
        self._image_api_models: dict[str, Mapping[str, Any]] | None = None
        self._output_modalities: dict[str, list[str]] | None = None
        self._pricing: dict[str, Mapping[str, Any]] = {}  # GET /models pricing, by model id
        self._image_prices: dict[str, tuple[float, str] | None] = {}
        # One lock per catalogue, so the first call fetches both side by side.
        self._images_lock = anyio.Lock()
        self._modalities_lock = anyio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> OpenRouterProvider:
        return cls(
            http,
            api_key=settings.api_key,
            base_url=settings.base_url,
            default_model=settings.model,
            app_url=settings.app_url,
            app_title=settings.app_title,
            max_attempts=settings.max_attempts,
            retry_budget_s=settings.retry_budget_s,
            backoff_s=settings.retry_backoff_s,
            timeout_s=settings.request_timeout_s,
        )

    @property
    def configured(self) -> bool:
        return bool(self._key)

    @property
    def origin(self) -> str | None:
        return origin_of(self._base)

    # ------------------------------------------------------------------ generate

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        self._require_key()
        surface = await self.surface_for(request.model, request.surface)
        plan = await self._plan(request)
        notes = list(plan.notes)
        if plan.background == "transparent":
            request, surface = await self._transparent_model(request, surface, notes)
        try:
            if surface == "images":
                job = lambda: self._generate_image_api(request, plan)  # noqa: E731
                result = await self._attempts(call, request.model, job)
            else:
                result = await self._chat_n(request, plan, call)
        finally:
            await self._settle_cut_off_attempts(call)
        result.surface = surface
        fmt = plan.output_format
        recode = (
            fmt
            if fmt and not ops.takes(request.model, surface, self._supported(request.model), "output_format")
            else None
        )
        if plan.keep is not None or recode is not None:
            result.images, more = await anyio.to_thread.run_sync(lambda: ops.finish(result.images, plan, recode=recode))
            notes += more
        result.metadata.update(operation=request.operation, surface=surface, model=result.model)
        if notes:
            result.metadata["mapping"] = notes
        return result

    async def _plan(self, request: ProviderRequest) -> ops.Plan:
        """The instruction and images; inpaint and erase read the image and the mask to draw the overlay."""
        if request.operation not in ("inpaint", "erase"):
            return ops.plan(request)
        if not request.input_images or request.mask is None:
            raise e.BadRequestError(
                f"{request.operation} needs an image and a mask; nothing was sent", "pass image and mask (or mask_box)"
            )
        from imagegen_mcp.imaging.download import input_bytes

        image = await input_bytes(self.http, request.input_images[0], provider="openrouter")
        mask = await input_bytes(self.http, request.mask, provider="openrouter")
        return await anyio.to_thread.run_sync(ops.plan, request, image.data, mask.data)

    def _supported(self, model: str) -> Mapping[str, Any] | None:
        """The model's Image API ``supported_parameters`` (None when the catalogue is unknown or lacks it)."""
        info = (self._image_api_models or {}).get(model)
        params = info.get("supported_parameters") if isinstance(info, Mapping) else None
        return params if isinstance(params, Mapping) else None

    async def _transparent_model(
        self, request: ProviderRequest, surface: str, notes: list[str]
    ) -> tuple[ProviderRequest, str]:
        """A model that makes a real alpha channel. The default model stands for "one that can": it is
        replaced by the first such Image API model (noted in the metadata); a model the caller named
        that cannot is refused before any request, naming one that can."""
        model = request.model
        if ops.makes_transparency(model, surface, self._supported(model)):
            return request, surface
        catalogue = await self._image_api_catalogue() or {}
        able = [m for m in catalogue if ops.makes_transparency(m, "images", self._supported(m))]
        if request.surface == "chat":
            able = []  # the caller pinned chat; the Image API models are not an option
        if model == self.capabilities.default_models.get(request.operation) and able:
            notes.append(f"{model} cannot make a transparent background: {able[0]} was used")
            return replace(request, model=able[0], surface="images"), "images"
        if model == self.capabilities.default_models.get(request.operation):
            raise e.ModelNotFoundError(
                f"no OpenRouter model that makes a transparent background is available for {request.operation} "
                "(nothing was sent)",
                "pick another provider (openai with a gpt-image model that has transparency), or drop background",
                code="no_transparent_model",
            )
        raise e.BadRequestError(
            f"{model} cannot make a transparent background on OpenRouter's {surface} surface; nothing was sent",
            (f"use model='{able[0]}'" if able else "pick a model that makes transparent backgrounds")
            + " (or leave model unset)",
        )

    async def _attempts(self, call: Call, model: str, attempt: Any) -> ProviderResult:
        return await recorded_retries(
            call, "openrouter", model, attempt,
            max_attempts=self.max_attempts, budget_s=self.retry_budget_s, backoff_s=self.backoff_s,
        )  # fmt: skip

    async def _chat_n(self, request: ProviderRequest, plan: ops.Plan, call: Call) -> ProviderResult:
        """Chat makes one image per call, so ``n`` images are ``n`` concurrent calls.

        Each call ends on its own (a failure does not cancel the others: they may already be billed).
        When some fail and some succeed, the images that were paid for are returned with
        ``partial_error``; only when every call failed is the first error raised.
        """
        results: list[ProviderResult | e.ProviderError | None] = [None] * request.n

        async def one(i: int) -> None:
            try:
                results[i] = await self._attempts(call, request.model, lambda: self._generate_chat(request, plan))
            except e.ProviderError as exc:
                results[i] = exc

        async with anyio.create_task_group() as tg:
            for i in range(request.n):
                tg.start_soon(one, i)
        done = [r for r in results if isinstance(r, ProviderResult)]
        failed = [r for r in results if isinstance(r, e.ProviderError)]
        if not done:
            raise failed[0]
        merged, *rest = done
        for more in rest:
            merged.images.extend(more.images)
            merged.cost_usd = _add(merged.cost_usd, more.cost_usd)
            merged.metadata["responses"] += more.metadata["responses"]
        if failed:
            merged.partial_error = failed[0]
        return merged

    async def surface_for(self, model: str, requested: str = "auto") -> str:
        if requested in ("images", "chat"):
            return requested
        catalogue, _ = await self._catalogues()
        if catalogue is None:  # catalogue unreachable: gpt-image-* lives only on /images
            return "images" if model.startswith("openai/gpt-image") else "chat"
        return "images" if model in catalogue else "chat"

    async def _generate_image_api(self, request: ProviderRequest, plan: ops.Plan) -> ProviderResult:
        supported = self._supported(request.model) or {}
        body: dict[str, Any] = {"model": request.model, "prompt": plan.prompt, "n": request.n}
        if plan.aspect_ratio:
            body["aspect_ratio"] = plan.aspect_ratio
        if plan.images:
            body["input_references"] = [{"type": "image_url", "image_url": {"url": u}} for u in plan.images]
        body.update(image_api_params(request.model, request.image_size, supported))
        body.update(self._passed_through(request.model, "images", plan))
        data, headers = await self._post("/images", body, model=request.model)
        generation_id = headers.get("x-generation-id") or str_or_none(data.get("id"))
        images = wire.image_api_images(data)
        cost = wire.cost_of(data)
        if not images:
            raise wire.no_image_error(request.model, None, None, cost, generation_id)
        result = ProviderResult(images, request.model, "openrouter", generation_id, cost)
        result.metadata["responses"] = [wire.response_metadata(data, generation_id)]
        result.metadata["sent"] = _sent(body)
        return result

    async def _generate_chat(self, request: ProviderRequest, plan: ops.Plan) -> ProviderResult:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": "user", "content": _chat_content(plan)}],
            "modalities": await self._modalities(request.model),
            "stream": False,
        }
        config = chat_image_config(request.model, request.image_size, plan.aspect_ratio)
        config.update(self._passed_through(request.model, "chat", plan))
        if config:
            body["image_config"] = config
        data, headers = await self._post("/chat/completions", body, model=request.model)
        generation_id = str_or_none(data.get("id")) or headers.get("x-generation-id")
        images, text, finish = wire.chat_images(data)
        cost = wire.cost_of(data)
        if not images:
            raise wire.no_image_error(request.model, text, finish, cost, generation_id)
        upstream = {"provider": data["provider"]} if isinstance(data.get("provider"), str) else {}
        model = str_or_none(data.get("model")) or request.model
        result = ProviderResult(images, model, "openrouter", generation_id, cost, text, finish, upstream=upstream)
        result.metadata["responses"] = [wire.response_metadata(data, generation_id)]
        result.metadata["sent"] = _sent(body)
        return result

    def _passed_through(self, model: str, surface: str, plan: ops.Plan) -> dict[str, Any]:
        """``background`` and ``output_format`` where the model takes them (elsewhere: see ``run``)."""
        supported = self._supported(model)
        fields = {"background": plan.background, "output_format": plan.output_format}
        return {k: v for k, v in fields.items() if v is not None and ops.takes(model, surface, supported, k)}

    # ------------------------------------------------------------------ HTTP

    async def _post(self, path: str, body: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Mapping[str, str]]:
        response = await self._send("POST", path, json=body)
        generation_id = response.headers.get("x-generation-id")
        data = json_of(response)
        if response.status_code >= 400:
            raise wire.map_error(response.status_code, data, response.headers, model=model, generation_id=generation_id)
        hidden = wire.body_error(data)
        if hidden is not None:
            raise wire.map_error(
                response.status_code, hidden, response.headers, model=model, generation_id=generation_id
            )
        if not isinstance(data, dict):
            raise e.InvalidResponseError(
                f"OpenRouter answered {path} with something other than a JSON object",
                "retry; if it persists, check OPENROUTER_BASE_URL",
                generation_id=generation_id,
            )
        return data, response.headers

    async def _send(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> Reply:
        headers = dict(self._app_headers)
        if auth and self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return await send(self.http, self._endpoint, method, f"{self._base}{path}", headers=headers, **kw)

    async def _settle_cut_off_attempts(self, call: Call) -> None:
        """Look up the cost of attempts that were billed but whose answer was lost (cut off, unreadable).

        OpenRouter bills a generation once it has an id; when the body never arrived, ``/generation``
        still knows what it cost (it may take a moment to appear there).
        """
        for attempt in call.attempts:
            if attempt.provider != "openrouter" or attempt.ok or attempt.cost_usd is not None:
                continue
            if not attempt.generation_id or attempt.error is None or attempt.error.code not in LOST_ANSWER_CODES:
                continue
            attempt.cost_usd = await self._generation_cost(attempt.generation_id)

    async def _generation_cost(self, generation_id: str) -> float | None:
        with anyio.move_on_after(5):
            for delay in (0.0, 0.25, 0.5, 1.0, 2.0):
                await anyio.sleep(delay)
                try:
                    reply = await self._send("GET", "/generation", params={"id": generation_id})
                except e.ProviderError:
                    continue
                data = json_of(reply)
                info = data.get("data") if reply.status_code == 200 and isinstance(data, dict) else None
                if isinstance(info, dict) and isinstance(info.get("total_cost"), int | float):
                    return float(info["total_cost"])
        return None

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    def _require_key(self) -> None:
        if not self._key:
            raise e.AuthError(
                "OPENROUTER_API_KEY is not set",
                "export OPENROUTER_API_KEY=sk-or-v1-… (create one at "
                f"{wire.KEYS_URL}), or call with provider='placeholder'",
            )

    # ------------------------------------------------------------------ catalogue

    async def _image_api_catalogue(self) -> dict[str, Mapping[str, Any]] | None:
        async with self._images_lock:
            if self._image_api_models is None:
                try:
                    response = await self._send("GET", "/images/models", auth=False)
                except e.ProviderError:
                    return None  # do not cache a failure; next call tries again
                data = json_of(response)
                if response.status_code != 200 or not isinstance(data, dict):
                    return None
                models: list[Any] = data["data"] if isinstance(data.get("data"), list) else []
                self._image_api_models = {m["id"]: m for m in models if isinstance(m, dict) and "id" in m}
            return self._image_api_models

    async def _modalities(self, model: str) -> list[str]:
        async with self._modalities_lock:
            if self._output_modalities is None:
                try:
                    response = await self._send("GET", "/models", params={"output_modalities": "image"})
                    data = json_of(response)
                except e.ProviderError:
                    data = None
                if isinstance(data, dict) and isinstance(data.get("data"), list):
                    self._pricing = {
                        m["id"]: m["pricing"] for m in data["data"] if isinstance(m, dict) and "id" in m
                        and isinstance(m.get("pricing"), dict)
                    }  # fmt: skip
                    self._output_modalities = {
                        m["id"]: list(m.get("architecture", {}).get("output_modalities", []))
                        for m in data["data"]
                        if isinstance(m, dict) and "id" in m
                    }
        outputs = (self._output_modalities or {}).get(model)
        return ["image"] if outputs == ["image"] else ["image", "text"]

    async def price_per_image(self, model: str, tokens_per_image: int) -> tuple[float, str] | None:
        """USD per image before a call, and where it came from; None when OpenRouter does not say.

        The Image API's per-image price (``/images/models/{id}/endpoints``, the highest listed, so a
        resolution tier is never under-estimated), else ``/models`` ``pricing.image_output``: a value
        under $0.001 is per token (as seen on the wire) and is multiplied by ``tokens_per_image``.
        """
        if model not in self._image_prices:
            self._image_prices[model] = await self._endpoint_price(model) or await self._models_price(
                model, tokens_per_image
            )
        return self._image_prices[model]

    async def _endpoint_price(self, model: str) -> tuple[float, str] | None:
        try:
            response = await self._send("GET", f"/images/models/{model}/endpoints", auth=False)
        except e.ProviderError:
            return None
        data = json_of(response)
        if response.status_code != 200 or not isinstance(data, dict) or not isinstance(data.get("endpoints"), list):
            return None
        prices = [
            float(p["cost_usd"])
            for endpoint in data["endpoints"] if isinstance(endpoint, dict)
            for p in endpoint.get("pricing") or [] if isinstance(p, dict)
            and p.get("billable") == "output_image" and p.get("unit") == "image"
            and isinstance(p.get("cost_usd"), int | float)
        ]  # fmt: skip
        return (max(prices), "OpenRouter /images/models endpoints pricing") if prices else None

    async def _models_price(self, model: str, tokens_per_image: int) -> tuple[float, str] | None:
        if self._key:
            await self._modalities(model)
        raw = self._pricing.get(model, {}).get("image_output")
        try:
            value = float(raw) if raw is not None else None
        except (TypeError, ValueError):
            return None
        if value is None or value <= 0:
            return None
        if value >= 0.001:
            return value, "OpenRouter /models pricing.image_output (per image)"
        return value * tokens_per_image, f"OpenRouter /models pricing.image_output × {tokens_per_image} image tokens"

    # ------------------------------------------------------------------ preflight

    async def models(self) -> list[ModelInfo]:
        """Image models from both catalogues: the Image API's list and the chat models that output images."""
        images, _ = await self._catalogues()
        found = [ModelInfo(m, note="Image API") for m in sorted(images or {})]
        known = {m.id for m in found}
        found += [
            ModelInfo(m, note="chat completions")
            for m, outputs in sorted((self._output_modalities or {}).items())
            if "image" in outputs and m not in known
        ]
        return found

    async def knows_model(self, model: str) -> bool:
        images, _ = await self._catalogues()
        return model in (images or {}) or "image" in (self._output_modalities or {}).get(model, [])

    async def _catalogues(self) -> tuple[dict[str, Mapping[str, Any]] | None, dict[str, list[str]] | None]:
        """Both catalogues, fetched side by side the first time (one round trip, not two in series)."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._image_api_catalogue)
            if self._key:
                tg.start_soon(self._modalities, "")
        return self._image_api_models, self._output_modalities

    async def check(self, model: str | None) -> list[PreflightCheck]:
        from imagegen_mcp.providers.openrouter_checks import checks

        return await checks(self, model or self.capabilities.default_models["generate"])


def _chat_content(plan: ops.Plan) -> str | list[dict[str, Any]]:
    """Plain text, or text first and then each image part (the order OpenRouter's docs use)."""
    if not plan.images:
        return plan.prompt
    parts: list[dict[str, Any]] = [{"type": "text", "text": plan.prompt}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in plan.images]
    return parts


def _sent(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a receipt keeps of a request body: the settings, not the prompt's images (counted instead)."""
    kept = {k: v for k, v in body.items() if k not in ("messages", "input_references", "prompt")}
    refs = body.get("input_references")
    if isinstance(refs, list):
        kept["input_images"] = len(refs)
    messages = body.get("messages")
    content = messages[0].get("content") if isinstance(messages, list) and messages else None
    if isinstance(content, list):
        kept["input_images"] = sum(1 for part in content if part.get("type") == "image_url")
    return kept


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


__all__ = ["OpenRouterProvider", "ProviderImage", "chat_image_config", "image_api_params"]
