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

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from imagegen_mcp import errors as e
from imagegen_mcp.models import ImageSize, PreflightCheck
from imagegen_mcp.providers import openrouter_wire as wire
from imagegen_mcp.providers.base import Capabilities, ProviderImage, ProviderRequest, ProviderResult

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


class OpenRouterProvider:
    capabilities = Capabilities(
        name="openrouter",
        offline=False,
        needs_key=True,
        max_images=4,
        surfaces=("images", "chat"),
        notes="OpenRouter Image API and chat completions with image output",
    )

    def __init__(
        self,
        http: httpx2.AsyncClient | None = None,
        *,
        api_key: str | None,
        base_url: str,
        app_url: str = "",
        app_title: str = "imagegen-mcp",
        max_attempts: int = 3,
        retry_budget_s: float = 90.0,
        backoff_s: float = 1.0,
        timeout_s: float = 180.0,
    ) -> None:
        # Built on first use, not at start-up: creating a TLS context costs ~50 ms of cold start,
        # and a host starts this server on every launch whether or not it generates anything.
        self._http = http
        self._owns_http = http is None
        self._timeout_s = timeout_s
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._app_headers = {"HTTP-Referer": app_url, "X-OpenRouter-Title": app_title, "X-Title": app_title}
        self.max_attempts = max_attempts
        self.retry_budget_s = retry_budget_s
        self.backoff_s = backoff_s
        self._image_api_models: dict[str, Mapping[str, Any]] | None = None
        self._output_modalities: dict[str, list[str]] | None = None
        self._catalogue_lock = anyio.Lock()

    # ------------------------------------------------------------------ generate

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        self._require_key()
        surface = await self.surface_for(request.model, request.surface)
        if surface == "images":
            result = await self._with_retries(lambda: self._generate_image_api(request))
        else:
            result = await self._chat_n(request)
        result.surface = surface
        return result

    async def _chat_n(self, request: ProviderRequest) -> ProviderResult:
        """Chat makes one image per call, so ``n`` images are ``n`` concurrent calls."""
        results: list[ProviderResult | None] = [None] * request.n

        async def one(i: int) -> None:
            results[i] = await self._with_retries(lambda: self._generate_chat(request))

        try:
            async with anyio.create_task_group() as tg:
                for i in range(request.n):
                    tg.start_soon(one, i)
        except BaseExceptionGroup as group:  # surface the first provider error, not a group
            raise e.first_error(group) from None
        merged, *rest = [r for r in results if r is not None]
        for more in rest:
            merged.images.extend(more.images)
            merged.cost_usd = _add(merged.cost_usd, more.cost_usd)
            merged.attempts += more.attempts
        return merged

    async def surface_for(self, model: str, requested: str = "auto") -> str:
        if requested in ("images", "chat"):
            return requested
        catalogue = await self._image_api_catalogue()
        if catalogue is None:  # catalogue unreachable: gpt-image-* lives only on /images
            return "images" if model.startswith("openai/gpt-image") else "chat"
        return "images" if model in catalogue else "chat"

    async def _generate_image_api(self, request: ProviderRequest) -> ProviderResult:
        supported: Mapping[str, Any] = {}
        catalogue = self._image_api_models or {}
        if isinstance(catalogue.get(request.model, {}).get("supported_parameters"), Mapping):
            supported = catalogue[request.model]["supported_parameters"]
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "n": request.n}
        if request.aspect_ratio:
            body["aspect_ratio"] = request.aspect_ratio
        if request.input_images:
            body["input_references"] = [{"type": "image_url", "image_url": {"url": u}} for u in request.input_images]
        body.update(image_api_params(request.model, request.image_size, supported))
        data, headers = await self._post("/images", body, model=request.model)
        generation_id = headers.get("x-generation-id") or _str(data.get("id"))
        images = wire.image_api_images(data)
        cost = wire.cost_of(data)
        if not images:
            raise wire.no_image_error(request.model, None, None, cost, generation_id)
        return ProviderResult(images, request.model, "openrouter", generation_id, cost)

    async def _generate_chat(self, request: ProviderRequest) -> ProviderResult:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": "user", "content": _chat_content(request)}],
            "modalities": await self._modalities(request.model),
            "stream": False,
        }
        config = chat_image_config(request.model, request.image_size, request.aspect_ratio)
        if config:
            body["image_config"] = config
        data, headers = await self._post("/chat/completions", body, model=request.model)
        generation_id = _str(data.get("id")) or headers.get("x-generation-id")
        images, text, finish = wire.chat_images(data)
        cost = wire.cost_of(data)
        if not images:
            raise wire.no_image_error(request.model, text, finish, cost, generation_id)
        upstream = {"provider": data["provider"]} if isinstance(data.get("provider"), str) else {}
        model = _str(data.get("model")) or request.model
        return ProviderResult(images, model, "openrouter", generation_id, cost, text, finish, upstream=upstream)

    # ------------------------------------------------------------------ HTTP

    async def _post(self, path: str, body: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Mapping[str, str]]:
        response = await self._send("POST", path, json=body, model=model)
        data = _json(response)
        generation_id = response.headers.get("x-generation-id")
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
            )
        return data, response.headers

    async def _send(self, method: str, path: str, *, model: str = "", auth: bool = True, **kw: Any) -> Reply:
        headers = dict(self._app_headers)
        if auth and self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            async with self.http.stream(method, f"{self._base}{path}", headers=headers, **kw) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                return Reply(response.status_code, response.headers, body)
        except httpx2.TimeoutException as exc:
            raise e.ProviderTimeoutError(
                f"no answer from OpenRouter within the time limit ({exc.__class__.__name__})",
                "retry, raise IMAGEGEN_TIMEOUT_S, or use enqueue_images for slow models",
            ) from None
        except httpx2.TransportError as exc:
            raise e.ConnectionFailedError(
                f"could not reach OpenRouter at {self._base} ({exc.__class__.__name__})",
                "check the network and OPENROUTER_BASE_URL, then retry",
            ) from None

    @property
    def http(self) -> httpx2.AsyncClient:
        if self._http is None:
            timeout = httpx2.Timeout(connect=15.0, read=self._timeout_s, write=60.0, pool=30.0)
            limits = httpx2.Limits(max_connections=32, max_keepalive_connections=8)
            self._http = httpx2.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _with_retries(self, attempt: Any) -> ProviderResult:
        started = time.monotonic()
        for number in range(1, self.max_attempts + 1):
            try:
                result: ProviderResult = await attempt()
                result.attempts = number
                return result
            except e.RetryableError as exc:
                left = self.retry_budget_s - (time.monotonic() - started)
                wait = self._backoff(number, exc.retry_after)
                if number >= self.max_attempts or wait > left:
                    raise
                await anyio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(retry_after) + random.uniform(0, 0.1 * self.backoff_s)
        return float(min(30.0, self.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))

    def _require_key(self) -> None:
        if not self._key:
            raise e.AuthError(
                "OPENROUTER_API_KEY is not set",
                "export OPENROUTER_API_KEY=sk-or-v1-… (create one at "
                f"{wire.KEYS_URL}), or call with provider='placeholder'",
            )

    # ------------------------------------------------------------------ catalogue

    async def _image_api_catalogue(self) -> dict[str, Mapping[str, Any]] | None:
        async with self._catalogue_lock:
            if self._image_api_models is None:
                try:
                    response = await self._send("GET", "/images/models", auth=False)
                except e.ProviderError:
                    return None  # do not cache a failure; next call tries again
                data = _json(response)
                if response.status_code != 200 or not isinstance(data, dict):
                    return None
                models: list[Any] = data["data"] if isinstance(data.get("data"), list) else []
                self._image_api_models = {m["id"]: m for m in models if isinstance(m, dict) and "id" in m}
            return self._image_api_models

    async def _modalities(self, model: str) -> list[str]:
        async with self._catalogue_lock:
            if self._output_modalities is None:
                try:
                    response = await self._send("GET", "/models", params={"output_modalities": "image"})
                    data = _json(response)
                except e.ProviderError:
                    data = None
                if isinstance(data, dict) and isinstance(data.get("data"), list):
                    self._output_modalities = {
                        m["id"]: list(m.get("architecture", {}).get("output_modalities", []))
                        for m in data["data"]
                        if isinstance(m, dict) and "id" in m
                    }
        outputs = (self._output_modalities or {}).get(model)
        return ["image"] if outputs == ["image"] else ["image", "text"]

    # ------------------------------------------------------------------ preflight

    async def check(self, model: str) -> list[PreflightCheck]:
        checks = [self._key_present()]
        if self._key:
            checks.append(await self._key_valid())
        checks.append(await self._model_check(model))
        return checks

    def _key_present(self) -> PreflightCheck:
        if self._key:
            return PreflightCheck(
                name="api_key_present",
                ok=True,
                detail=f"OPENROUTER_API_KEY is set ({e.mask_secret(self._key)})",
            )
        return PreflightCheck(
            name="api_key_present",
            ok=False,
            detail="OPENROUTER_API_KEY is not set",
            fix=f"export OPENROUTER_API_KEY=sk-or-v1-…  (create one at {wire.KEYS_URL}), "
            "or export IMAGEGEN_PROVIDER=placeholder to work offline",
        )

    async def _key_valid(self) -> PreflightCheck:
        try:
            response = await self._send("GET", "/key")
            if response.status_code == 404:  # older gateways only serve the legacy path
                response = await self._send("GET", "/auth/key")
        except e.ProviderError as exc:
            return PreflightCheck(name="api_key_valid", ok=False, detail=exc.message, fix=exc.fix)
        data = _json(response)
        if response.status_code != 200 or not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            err = wire.map_error(response.status_code, data, response.headers, model="")
            return PreflightCheck(name="api_key_valid", ok=False, detail=err.message, fix=err.fix)
        info = data["data"]
        remaining = info.get("limit_remaining")
        if isinstance(remaining, int | float):
            if remaining <= 0:
                return PreflightCheck(
                    name="api_key_valid",
                    ok=False,
                    detail=f"the key is valid but its limit is used up (${remaining:.2f} remaining)",
                    fix=f"raise the key's limit or add credits at {wire.CREDITS_URL}",
                )
            detail = f"the key is valid; ${remaining:.2f} of its ${float(info.get('limit') or 0):.2f} limit remains"
        else:
            detail = "the key is valid and has no spending limit"
        return PreflightCheck(name="api_key_valid", ok=True, detail=detail)

    async def _model_check(self, model: str) -> PreflightCheck:
        catalogue = await self._image_api_catalogue()
        if catalogue is not None and model in catalogue:
            return PreflightCheck(name="model", ok=True, detail=f"{model} is served by the Image API (POST /images)")
        if self._key:
            await self._modalities(model)
        outputs = (self._output_modalities or {}).get(model)
        if outputs is not None and "image" in outputs:
            return PreflightCheck(
                name="model",
                ok=True,
                detail=f"{model} outputs images through chat completions ({'+'.join(outputs)})",
            )
        if catalogue is None and self._output_modalities is None:
            return PreflightCheck(
                name="model",
                ok=False,
                detail=f"could not reach OpenRouter's model catalogue to confirm {model}",
                fix="check the network and OPENROUTER_BASE_URL, then run preflight again",
            )
        return PreflightCheck(
            name="model",
            ok=False,
            detail=f"{model} is not an image-output model on OpenRouter",
            fix=f"export IMAGEGEN_MODEL=google/gemini-3.1-flash-image-preview (or pick one at {wire.IMAGE_MODELS_URL})",
        )


def _chat_content(request: ProviderRequest) -> str | list[dict[str, Any]]:
    """Plain text, or text first and then each image part (the order OpenRouter's docs use)."""
    if not request.input_images:
        return request.prompt
    parts: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in request.input_images]
    return parts


@dataclass
class Reply:
    """An HTTP answer read into one buffer that :func:`_json` consumes.

    An image response is ~10 MB of base64 JSON, the largest thing this server holds; reading it into
    a buffer we own lets the parse free the raw bytes before it allocates the parsed objects, so at
    most two copies exist at once instead of three (bytes, text, objects).
    """

    status_code: int
    headers: httpx2.Headers
    body: bytearray


def _json(reply: Reply) -> Any:
    """The body as JSON (None if it is not JSON); the raw bytes are released either way."""
    try:
        text = reply.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    finally:
        reply.body.clear()
    try:
        return json.loads(text)
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


__all__ = ["OpenRouterProvider", "ProviderImage", "chat_image_config", "image_api_params"]
