"""The ``openai`` provider: OpenAI's Images API, hand-written over ``httpx2``.

Endpoints (``reference/providers.md`` §1): ``POST /images/generations`` (JSON) for ``generate``;
``POST /images/edits`` (multipart: repeated ``image[]`` parts, optional ``mask``) for ``edit``,
``inpaint`` and a ``generate`` that carries input images (a baseline); ``POST /images/variations``
(multipart) for ``variation`` — declared only when a live model in the data file has it (none today).

How our arguments map (the README's provider section has the same table):

===================  ===========================================================================
``image_size``       ``quality``: low/medium/high (DALL·E 3: low/medium → standard, high → hd)
``aspect_ratio``     ``size``: see :mod:`~imagegen_mcp.providers.openai_catalogue` (nearest fixed
                     size; gpt-image-2 any WxH ÷16); a ratio a model cannot make is refused
``background``       passed through; ``transparent`` with ``output_format: jpeg`` is refused
``output_format``    passed through (png, jpeg, webp)
``n``                ``n`` up to the model's maximum (refused above it)
``input_images``     ``image[]`` parts: data URLs are uploaded as their bytes, https inputs are
                     fetched first with the safe downloader (https only)
``mask``             the ``mask`` part, converted from white = change to OpenAI's alpha 0 = edit
options              ``quality``, ``output_compression``, ``moderation`` passed through
===================  ===========================================================================

An argument the model cannot honour is refused before any request (``BadRequestError`` naming it);
``seed``, ``negative_prompt``, ``surface`` are absent from the capabilities, so the router never
sends them here. The models, their sizes, limits, prices and shutdown dates are data
(``providers/data/openai_models.json``): the default is ``gpt-image-2``; a model past its shutdown
date is refused before any request with a fix naming a live model, unless the live ``/models``
still lists it. ``cost_usd`` comes from ``usage`` (or the per-image price) only where a price is
known; otherwise it is None ("cost not reported"), never a guess.

Retries: :class:`~imagegen_mcp.errors.RetryableError` only (429 with its ``retry-after-ms`` /
``retry-after`` / ``x-ratelimit-reset-requests``, 5xx, timeouts), each HTTP attempt in the call's
ledger. A moderation refusal (400 ``moderation_blocked``) is never retried.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from imagegen_mcp import errors as e
from imagegen_mcp.imaging.codec import decode_base64_image
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers import openai_catalogue as catalogue_
from imagegen_mcp.providers import openai_operations as operations
from imagegen_mcp.providers import openai_wire as wire
from imagegen_mcp.providers.base import (
    Call,
    Capabilities,
    ModelInfo,
    Operation,
    ProviderRequest,
    ProviderResult,
    origin_of,
)
from imagegen_mcp.providers.http import Endpoint, Reply, SharedClient, json_of, recorded_retries, send
from imagegen_mcp.providers.openai_catalogue import Catalogue, ModelSpec

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENROUTER_DEFAULT_MODEL = "google/gemini-3.1-flash-image-preview"  # IMAGEGEN_MODEL's default: not ours


class OpenAIProvider:
    name = "openai"
    who = wire.Who("OpenAI", "OPENAI_API_KEY", "OPENAI_BASE_URL", "sk-proj-…")
    notes = "OpenAI Images API: generations, edits (several images, mask), variations where a model has them"
    prices_apply = True  # OpenAI's own list prices; a gateway's are its own

    def __init__(
        self,
        http: SharedClient | None = None,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        default_model: str | None = None,
        catalogue: Catalogue | None = None,
        today: datetime.date | None = None,
        max_attempts: int = 3,
        retry_budget_s: float = 90.0,
        backoff_s: float = 1.0,
        timeout_s: float = 180.0,
    ) -> None:
        self._owns_http = http is None
        self.http = http or SharedClient(timeout_s)
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._endpoint = Endpoint(self.who.label, self._base, self.who.base_variable, id_header="x-request-id")
        self.catalogue = catalogue or catalogue_.load()
        self.today = today or datetime.datetime.now(datetime.UTC).date()
        self.default_model = default_model or self.catalogue.default_model
        self.max_attempts, self.retry_budget_s, self.backoff_s = max_attempts, retry_budget_s, backoff_s
        self._listing: dict[str, Mapping[str, Any]] | None = None
        self._listing_lock = anyio.Lock()
        self.capabilities = self._capabilities()

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> OpenAIProvider:
        env = settings.provider_env
        return cls(
            http,
            api_key=env.get("OPENAI_API_KEY") or None,
            base_url=env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            default_model=_configured_model(settings, cls.name),
            max_attempts=settings.max_attempts,
            retry_budget_s=settings.retry_budget_s,
            backoff_s=settings.retry_backoff_s,
            timeout_s=settings.request_timeout_s,
        )

    def _capabilities(self) -> Capabilities:
        live = [spec for spec in self.catalogue.models.values() if spec.live(self.today)]
        operations = self.catalogue.arguments(live)
        default = self.catalogue.models.get(self.default_model)
        defaults: dict[Operation, str] = {}
        for op in operations:
            able = [s.id for s in live if op in s.operations]
            defaults[op] = self.default_model if default is None or op in default.operations else able[0]
        return Capabilities(
            name=self.name,
            operations=operations,
            default_models=defaults,
            max_images=max((s.max_n for s in live), default=1),
            key_variables=(self.who.key_variable,),
            notes=self.notes,
        )

    @property
    def configured(self) -> bool:
        return bool(self._key)

    @property
    def origin(self) -> str | None:
        return origin_of(self._base)

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ run

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        self._require_key()
        spec = await self.spec_for(request.model)
        path = operations.path_for(request, spec)
        refuse_unhonoured(spec, request, path, self.catalogue.live_models(self.today))
        base = await self.api_base()
        quality = request.options.get("quality") or (spec.quality.get(request.image_size or "") or None)
        plan = await self._plan(request, spec)
        size = plan.fields.pop("size", None) or spec.size_for(request.aspect_ratio)
        fields = {
            "model": spec.id,
            "prompt": plan.prompt,
            "n": request.n if request.n > 1 else None,
            "size": size,
            "quality": quality,
            "background": request.background,
            "output_format": request.output_format,
            "output_compression": request.options.get("output_compression"),
            "moderation": request.options.get("moderation"),
            **plan.fields,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        files = self._parts(plan, spec) if path != "/images/generations" else None

        async def attempt() -> ProviderResult:
            if files is None:
                reply = await self._send("POST", f"{base}{path}", json=body)
            else:
                form = {k: str(v) for k, v in body.items()}
                reply = await self._send("POST", f"{base}{path}", data=form, files=files)
            result = self._result(reply, spec, path, quality=quality, size=size)
            result.metadata.update(operation=request.operation, sent={k: v for k, v in body.items() if k != "prompt"})
            if plan.notes:
                result.metadata["mapping"] = plan.notes
            return result

        return await recorded_retries(
            call, self.name, spec.id, attempt,
            max_attempts=self.max_attempts, budget_s=self.retry_budget_s, backoff_s=self.backoff_s,
        )  # fmt: skip

    def _result(self, reply: Reply, spec: ModelSpec, path: str, *, quality: Any, size: str | None) -> ProviderResult:
        request_id = reply.headers.get("x-request-id")
        data = json_of(reply)
        if reply.status_code >= 400:
            raise self._error(reply.status_code, data, reply.headers, spec.id)
        hidden = wire.hidden_error(data)
        if hidden is not None:
            raise self._error(reply.status_code, hidden, reply.headers, spec.id)
        if not isinstance(data, dict):
            raise e.InvalidResponseError(
                f"{self.who.label} answered {path} with something that is not JSON (an HTML page or a cut-off body)",
                f"retry; if it persists, check {self.who.base_variable} (it must be the API root)",
                generation_id=request_id,
            )
        images, urls = wire.answer_images(data, self.who)
        count = len(images) + len(urls)
        cost = spec.cost(data, quality=quality, size=size, count=count) if self.prices_apply else None
        if not count:
            raise e.NoImageError(
                f"{self.who.label} answered {path} with no image", "retry, or rephrase the prompt",
                cost_usd=cost, generation_id=request_id,
            )  # fmt: skip
        return ProviderResult(images, spec.id, self.name, request_id, cost, urls=urls,
                              metadata=_metadata(data, request_id, path))  # fmt: skip

    def _error(self, status: int, body: Any, headers: Mapping[str, str], model: str) -> e.ProviderError:
        return wire.map_error(status, body, headers, who=self.who, model=model, key=self._key)

    async def _plan(self, request: ProviderRequest, spec: ModelSpec) -> operations.Plan:
        """Every input read (https ones fetched first), then the operation mapped (Pillow, in a thread)."""
        if operations.path_for(request, spec) == "/images/generations":
            return operations.Plan("/images/generations", request.prompt)
        images = [await self._input_bytes(ref) for ref in request.input_images]
        mask = await self._input_bytes(request.mask) if request.mask else None
        style_ref = request.options.get("style_image")
        style = await self._input_bytes(style_ref) if isinstance(style_ref, str) else None
        return await anyio.to_thread.run_sync(operations.plan, request, spec, images, mask, style)

    @staticmethod
    def _parts(plan: operations.Plan, spec: ModelSpec) -> list[tuple[str, Any]]:
        """The multipart file parts: each image in order (``image[]``; ``image`` where one is taken), the mask."""
        one = plan.path == "/images/variations" or spec.max_input_images == 1
        parts: list[tuple[str, Any]] = []
        for i, data in enumerate(plan.images):
            filename, mime = wire.upload_name(i, data)
            parts.append(("image" if one else "image[]", (filename, data, mime)))
        if plan.mask is not None:
            parts.append(("mask", ("mask.png", plan.mask, "image/png")))
        return parts

    async def _input_bytes(self, ref: str) -> bytes:
        if ref.startswith("data:"):
            return decode_base64_image(ref)
        from imagegen_mcp.imaging.download import download

        try:
            image = await download(self.http, ref, provider=self.name, provider_origin=None)
        except e.ImagegenError as exc:
            raise e.BadRequestError(
                f"an input image could not be fetched before the request ({exc.message}); nothing was sent",
                "pass a reachable https URL, a local file, or an imagegen:// uri",
            ) from None
        return image.data

    async def _send(self, method: str, url: str, **kw: Any) -> Reply:
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        return await send(self.http, self._endpoint, method, url, headers=headers, **kw)

    def _require_key(self) -> None:
        if not self._key:
            raise e.AuthError(
                f"{self.who.key_variable} is not set",
                f"export {self.who.key_variable}={self.who.key_hint}, or call with provider='placeholder'",
            )

    # ------------------------------------------------------------------ models

    async def api_base(self) -> str:
        """The base the API paths hang off (a gateway finds it by discovery)."""
        return self._base

    async def listing(self) -> dict[str, Mapping[str, Any]] | None:
        """``GET /models`` (id → item), fetched once per process; None when it cannot be read (not cached)."""
        async with self._listing_lock:
            if self._listing is None and self._key:
                try:
                    reply = await self._send("GET", f"{await self.api_base()}/models")
                except e.ProviderError:
                    return None
                data = json_of(reply)
                items = data.get("data") if reply.status_code == 200 and isinstance(data, dict) else None
                if isinstance(items, list):
                    self._listing = {m["id"]: m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)}
            return self._listing

    async def spec_for(self, model: str) -> ModelSpec:
        """The model's spec; a model past its shutdown date (and no longer listed) is refused before any request."""
        spec = self.catalogue.models.get(model)
        if spec is not None and spec.live(self.today):
            return spec
        listed = await self.listing()
        if spec is not None:
            if listed is not None and model in listed:
                return spec  # past its date in our data, but the API still serves it
            successor = self.catalogue.successor(self.today)
            raise e.ModelNotFoundError(
                f"{model} was shut down on {spec.shutdown_date} (nothing was sent)",
                f"use model='{successor}' (or leave model unset for the default)",
            )
        if listed is not None and model not in listed:
            raise e.ModelNotFoundError(
                f"{model} is not a model {self.who.label} lists (nothing was sent)",
                f"use model='{self.catalogue.successor(self.today)}', or run preflight to see the live models",
            )
        return self.unknown_spec(model)

    def unknown_spec(self, model: str) -> ModelSpec:
        """A listed model this data file does not know yet: it behaves like the default, with no known price."""
        from dataclasses import replace

        base = self.catalogue.models.get(self.catalogue.default_model, self.catalogue.gateway_default)
        if not model.startswith(("gpt-image", "chatgpt-image")):
            base = self.catalogue.gateway_default
        return replace(base, id=model, prices=None, shutdown_date=None)

    async def models(self) -> list[ModelInfo]:
        listed = await self.listing()
        found: list[ModelInfo] = []
        for spec in self.catalogue.models.values():
            if spec.live(self.today) or (listed is not None and spec.id in listed):
                note = f"shuts down {spec.shutdown_date}" if spec.shutdown_date else ""
                found.append(ModelInfo(spec.id, spec.operations, note))
        known = {m.id for m in found} | set(self.catalogue.models)
        for model_id in sorted(listed or {}):
            if model_id not in known and catalogue_.looks_like_image_model(model_id):
                found.append(ModelInfo(model_id, self.unknown_spec(model_id).operations, "listed by /models"))
        return found

    async def knows_model(self, model: str) -> bool:
        return any(m.id == model for m in await self.models())

    # ------------------------------------------------------------------ preflight

    async def check(self, model: str | None) -> list[PreflightCheck]:
        model = model or self.default_model
        if not self._key:
            return [
                PreflightCheck(
                    name="api_key_present",
                    ok=False,
                    detail=f"{self.who.key_variable} is not set",
                    fix=f"export {self.who.key_variable}={self.who.key_hint}",
                )
            ]
        checks = [
            PreflightCheck(
                name="api_key_present",
                ok=True,
                detail=f"{self.who.key_variable} is set ({e.mask_secret(self._key)})",
            ),
            await self._reachable(),
        ]
        try:
            spec = await self.spec_for(model)
        except e.ProviderError as exc:
            checks.append(PreflightCheck(name="model", ok=False, detail=exc.message, fix=exc.fix))
        else:
            when = f" (shuts down {spec.shutdown_date})" if spec.shutdown_date else ""
            checks.append(PreflightCheck(name="model", ok=True, detail=f"{model} is available{when}"))
        return checks

    async def _reachable(self) -> PreflightCheck:
        try:
            reply = await self._send("GET", f"{await self.api_base()}/models")
        except e.ProviderError as exc:
            return PreflightCheck(name="api_reachable", ok=False, detail=exc.message, fix=exc.fix)
        data = json_of(reply)
        if reply.status_code != 200 or not isinstance(data, dict):
            err = self._error(reply.status_code, data, reply.headers, "")
            return PreflightCheck(name="api_reachable", ok=False, detail=err.message, fix=err.fix)
        count = len(data["data"]) if isinstance(data.get("data"), list) else 0
        return PreflightCheck(name="api_reachable", ok=True, detail=f"{self._base}/models lists {count} models")


def refuse_unhonoured(spec: ModelSpec, request: ProviderRequest, path: str, live: Sequence[ModelSpec] = ()) -> None:
    """Everything the model cannot take is refused here, before any request (never silently dropped).

    ``live`` are the models a fix may name instead (one that does the operation, or makes transparency).
    """
    op = request.operation
    needed: Operation = "edit" if op == "generate" and path == "/images/edits" else op
    if needed not in spec.operations:
        able = "generate" if not spec.operations else ", ".join(sorted(spec.operations))
        other = next((m.id for m in live if needed in m.operations), None)
        raise e.BadRequestError(
            f"{spec.id} cannot do {needed} (it does: {able}); nothing was sent",
            (f"use model='{other}'" if other else "pick a model that can (run preflight to list them)")
            + (", or drop the input images" if needed == "edit" else ""),
        )
    missing = request.arguments() - catalogue_.operation_arguments(spec, op)
    if missing:
        listed = ", ".join(sorted(missing))
        raise e.BadRequestError(
            f"{spec.id} cannot honour {listed} for {op}; nothing was sent",
            f"drop {listed}, or pick a model that honours it",
        )
    transparent = request.background == "transparent" or op == "remove_background"
    clear = next((m.id for m in live if m.transparency), None)
    images = len(request.input_images) + (1 if request.options.get("style_image") else 0)
    checks = [
        (request.n > spec.max_n, f"n={request.n} is more than {spec.id} makes in one call ({spec.max_n})",
         f"pass n={spec.max_n} or fewer"),
        (spec.prompt_limit is not None and len(request.prompt) > spec.prompt_limit,
         f"the prompt is {len(request.prompt)} characters; {spec.id} takes at most {spec.prompt_limit}",
         "shorten prompt"),
        (images > spec.max_input_images,
         f"{images} input images; {spec.id} takes at most {spec.max_input_images}", "send fewer input images"),
        (transparent and request.output_format == "jpeg",
         "background='transparent' needs an image format with an alpha channel, and jpeg has none",
         "use output_format='png' or 'webp' with a transparent background"),
        (transparent and not spec.transparency, f"{spec.id} cannot make a transparent background",
         f"use model='{clear}'" if clear else "pick a model that makes transparent backgrounds"),
        (op != "generate" and not request.input_images, f"{op} needs an input image", "pass the image to work on"),
        (op in ("inpaint", "erase") and request.mask is None, f"{op} needs a mask", "pass mask (or mask_box)"),
        (op == "style_transfer" and not request.options.get("style_image"), "style_transfer needs a style image",
         "pass style_image"),
    ]  # fmt: skip
    for failed, message, fix in checks:
        if failed:
            raise e.BadRequestError(f"{message}; nothing was sent", fix)


def _metadata(answer: Mapping[str, Any], request_id: str | None, path: str) -> dict[str, Any]:
    """What a receipt keeps of an answer (its images already taken out): ids, echoed settings, usage.

    Never image data, and never result URLs (signed URLs carry credentials in their query).
    """
    meta: dict[str, Any] = {"request_id": request_id, "endpoint": path}
    meta.update({k: answer[k] for k in ("created", "background", "output_format", "quality", "size") if k in answer})
    if isinstance(answer.get("usage"), dict):
        meta["usage"] = answer["usage"]
    items = answer.get("data")
    revised = [i.get("revised_prompt") for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if any(revised):
        meta["revised_prompts"] = revised
    return meta


def _configured_model(settings: Settings, name: str) -> str | None:
    """``IMAGEGEN_MODEL`` is this provider's default only when this provider is the configured one."""
    if settings.provider == name and settings.model != OPENROUTER_DEFAULT_MODEL:
        return settings.model
    return None
