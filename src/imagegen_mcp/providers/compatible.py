"""The ``compatible`` provider: any OpenAI-compatible image gateway (``IMAGE_API_KEY`` + ``IMAGE_BASE_URL``).

It is the ``openai`` client (same wire, same argument mapping) plus what gateways do differently
(``reference/providers.md`` §1 "gateways differ", and the generic image skill's discovery):

- **Base with or without ``/v1``.** ``GET <base>/models`` is tried first, then ``<base>/v1/models``;
  when neither exists, the images endpoint is *probed* with an empty JSON body at each (400/422 means
  "the endpoint is here", 404 "not here"). A probe never generates — an empty body cannot be billed.
  What worked is kept for the life of the process.
- **Model lists.** An unfiltered ``/models`` (chat, embeddings and images together) is filtered by id
  hints (``image``, ``dall-e``, ``flux``, ``sd3``, ``imagen``, ``seedream``…). Without a list, any id
  that looks like an image model is accepted and the gateway has the last word.
- **Which model.** The request's ``model``; otherwise ``gpt-image-2`` (the data file's default) when
  the gateway lists it, else the first image model it lists. No new variable: ``IMAGEGEN_MODEL``
  sets the default when ``IMAGEGEN_PROVIDER=compatible``. A model the data file knows keeps its
  parameter rules there; any other gets the conservative ``gateway_default`` rules (``n``,
  ``aspect_ratio``, input images): arguments a gateway would silently ignore are refused instead.
- **Answers** as ``b64_json`` or ``url`` (the router downloads URLs at once: https, or the
  gateway's own origin). **Cost** is not reported: a gateway's prices are its own, not OpenAI's.
- **Edits** (every edit operation, as the ``openai`` provider maps them: :mod:`openai_operations`) go to
  the gateway's ``/images/edits`` in OpenAI's multipart shape, the mask in OpenAI's alpha form. Not
  every gateway serves that endpoint, so before the first edit it is probed with an empty JSON body
  (400/415/422 = there, 404/405 = not; nothing can be generated or billed, no image leaves the
  machine): without it the edit is refused before any upload with a ``ModelNotFoundError``, so the
  router moves on to a provider that edits. Models the data file does not know get the
  ``gateway_default`` rules: generate and every edit mode except ``remove_background`` (no known
  alpha support), arguments ``n``, ``aspect_ratio``, input images, ``mask``, ``consistency``.
- **Errors** in the gateways' envelopes (``{"code", "msg"}``, ``{"error": "text"}``), a prompt over
  a gateway's shorter limit (→ ``BadRequestError`` naming ``prompt``), all mapped by
  :mod:`~imagegen_mcp.providers.openai_wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from imagegen_mcp import errors as e
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers import openai_catalogue as catalogue_
from imagegen_mcp.providers import openai_operations as operations
from imagegen_mcp.providers import openai_wire as wire
from imagegen_mcp.providers.base import Call, Capabilities, ModelInfo, ProviderRequest, ProviderResult
from imagegen_mcp.providers.http import json_of
from imagegen_mcp.providers.openai import OpenAIProvider, _configured_model, refuse_unhonoured
from imagegen_mcp.providers.openai_catalogue import ModelSpec

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.providers.http import SharedClient


class CompatibleProvider(OpenAIProvider):
    name = "compatible"
    who = wire.Who("The image gateway", "IMAGE_API_KEY", "IMAGE_BASE_URL", "sk-…")
    notes = "OpenAI-compatible image gateway: base with or without /v1, models discovered from /models or probed"
    prices_apply = False

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._api: str | None = None  # the base that answered (with or without /v1)
        self._edits: bool | None = None  # whether the gateway serves /images/edits (probed once)
        self._discover_lock = anyio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> CompatibleProvider:
        env = settings.provider_env
        return cls(
            http,
            api_key=env.get("IMAGE_API_KEY") or None,
            base_url=env.get("IMAGE_BASE_URL") or "",
            default_model=_configured_model(settings, cls.name),
            max_attempts=settings.max_attempts,
            retry_budget_s=settings.retry_budget_s,
            backoff_s=settings.retry_backoff_s,
            timeout_s=settings.request_timeout_s,
        )

    def _capabilities(self) -> Capabilities:
        caps = super()._capabilities()
        # A gateway's other models follow the conservative rules; add what they honour.
        extra = self.catalogue.arguments([self.catalogue.gateway_default])
        merged = {
            op: caps.operations.get(op, frozenset()) | extra.get(op, frozenset()) for op in {**caps.operations, **extra}
        }
        from dataclasses import replace

        # An operation the default model cannot do (remove_background on gpt-image-2) keeps a model that can.
        defaults = {op: caps.default_models.get(op, self.default_model) for op in merged}
        return replace(caps, operations=merged, default_models=defaults)

    @property
    def configured(self) -> bool:
        return bool(self._key and self._base)

    # ------------------------------------------------------------------ discovery

    def _candidates(self) -> list[str]:
        return [self._base] if self._base.endswith("/v1") else [self._base, f"{self._base}/v1"]

    async def api_base(self) -> str:
        async with self._discover_lock:
            if self._api is None:
                await self._discover()
        assert self._api is not None
        return self._api

    async def _discover(self) -> None:
        """Find where the API lives: ``/models`` at each candidate base, else a probe of the images endpoint."""
        if not self._base:
            raise e.AuthError("IMAGE_BASE_URL is not set", "export IMAGE_BASE_URL=https://your-gateway.example/v1")
        for base in self._candidates():
            reply = await self._send("GET", f"{base}/models")
            data = json_of(reply)
            if reply.status_code in (401, 403):
                raise self._error(reply.status_code, data, reply.headers, "")
            if reply.status_code == 200 and isinstance(data, dict) and isinstance(data.get("data"), list):
                self._api = base
                self._listing = {
                    m["id"]: m for m in data["data"] if isinstance(m, dict) and isinstance(m.get("id"), str)
                }
                return
        for base in self._candidates():
            reply = await self._send("POST", f"{base}/images/generations", json={})
            data = json_of(reply)
            if reply.status_code == 401:
                raise self._error(reply.status_code, data, reply.headers, "")
            if reply.status_code in (400, 415, 422) or (reply.status_code == 200 and wire.hidden_error(data)):
                self._api = base
                return
        tried = " and ".join(self._candidates())
        raise e.ModelNotFoundError(
            f"no OpenAI-compatible images API at {tried} (GET /models and POST /images/generations both missing)",
            "check IMAGE_BASE_URL: it must be the gateway's API root (e.g. https://gateway.example or …/v1)",
            code="endpoint_not_found",
        )

    async def listing(self) -> dict[str, Mapping[str, Any]] | None:
        if self._api is None:
            try:
                await self.api_base()
            except e.ProviderError:
                return None
        return self._listing

    async def image_models(self) -> list[str] | None:
        """The gateway's image models, in its order (None when it has no ``/models``)."""
        listed = await self.listing()
        if listed is None:
            return None
        return [m for m in listed if catalogue_.looks_like_image_model(m)]

    # ------------------------------------------------------------------ models

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        from dataclasses import replace

        self._require_key()
        base = await self.api_base()  # discovery errors (auth, no API here) surface before anything else
        request = replace(request, model=await self._model_for(request.model))
        spec = await self.spec_for(request.model)
        path = operations.path_for(request, spec)
        if path == "/images/edits":  # what the model cannot do is refused before the probe, too
            refuse_unhonoured(spec, request, path, self.catalogue.live_models(self.today))
        if path == "/images/edits" and not await self._serves_edits(base):
            raise e.ModelNotFoundError(
                f"the gateway at {base} has no /images/edits (it answered 404), so it cannot {request.operation} "
                "images; nothing was sent",
                "use a provider that edits (openai, openrouter), or point IMAGE_BASE_URL at a gateway that serves "
                "/images/edits",
                code="endpoint_not_found",
            )
        return await super().run(request, call)

    async def _serves_edits(self, base: str) -> bool:
        """Whether ``/images/edits`` exists, probed once with an empty JSON body (it cannot generate or bill)."""
        async with self._discover_lock:
            if self._edits is None:
                reply = await self._send("POST", f"{base}/images/edits", json={})
                if reply.status_code == 401:
                    raise self._error(reply.status_code, json_of(reply), reply.headers, "")
                self._edits = reply.status_code not in (404, 405)
        return self._edits

    async def _model_for(self, model: str) -> str:
        """The default stands for "whatever the gateway has": its first image model when it lacks the default."""
        images = await self.image_models()
        if model == self.default_model and images and model not in images:
            return images[0]
        return model

    async def spec_for(self, model: str) -> ModelSpec:
        """Known ids keep their parameter rules (the gateway, not our dates, says whether they are live)."""
        from dataclasses import replace

        spec = self.catalogue.models.get(model)
        if spec is not None:
            return replace(spec, prices=None, shutdown_date=None)
        return self.catalogue.gateway_default.renamed(model)

    async def models(self) -> list[ModelInfo]:
        images = await self.image_models()
        return [ModelInfo(m, (await self.spec_for(m)).operations, "listed by the gateway") for m in images or []]

    async def knows_model(self, model: str) -> bool:
        images = await self.image_models()
        return model in images if images is not None else catalogue_.looks_like_image_model(model)

    # ------------------------------------------------------------------ preflight

    async def check(self, model: str | None) -> list[PreflightCheck]:
        missing = [v for v, value in (("IMAGE_API_KEY", self._key), ("IMAGE_BASE_URL", self._base)) if not value]
        if missing:
            return [
                PreflightCheck(
                    name="api_key_present",
                    ok=False,
                    detail=f"{' and '.join(missing)} not set",
                    fix=" ".join(f"export {v}=…" for v in missing),
                )
            ]
        assert self._key is not None
        checks = [
            PreflightCheck(name="api_key_present", ok=True,
                           detail=f"IMAGE_API_KEY is set ({e.mask_secret(self._key)})"),
        ]  # fmt: skip
        try:
            base = await self.api_base()
        except e.ProviderError as exc:
            return [*checks, PreflightCheck(name="api_reachable", ok=False, detail=exc.message, fix=exc.fix)]
        images = await self.image_models()
        how = (
            f"/models lists {len(images)} image models" if images is not None else "no /models; images endpoint probed"
        )
        checks.append(PreflightCheck(name="api_reachable", ok=True, detail=f"gateway API at {base} ({how})"))
        chosen = await self._model_for(model or self.default_model)
        if images is None:
            checks.append(
                PreflightCheck(name="model", ok=True, detail=f"{chosen} (the gateway lists no models to check)")
            )
        elif chosen in images:
            checks.append(PreflightCheck(name="model", ok=True, detail=f"{chosen} is listed by the gateway"))
        else:
            checks.append(
                PreflightCheck(
                    name="model",
                    ok=False,
                    detail=f"{chosen} is not among the gateway's image models ({', '.join(images[:8]) or 'none'})",
                    fix=f"pass model='{images[0]}'" if images else "check that the gateway serves image models",
                )
            )
        return checks
