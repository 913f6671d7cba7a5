"""OpenRouter's preflight checks: the key is set, OpenRouter accepts it (and what its limit leaves), and the
model outputs images on one of the two surfaces. Split from :mod:`openrouter` (the provider) to keep it small."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagegen_mcp import errors as e
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers import openrouter_wire as wire
from imagegen_mcp.providers.http import json_of

if TYPE_CHECKING:
    from imagegen_mcp.providers.openrouter import OpenRouterProvider


async def checks(self: OpenRouterProvider, model: str) -> list[PreflightCheck]:
    """Key present, key valid (and its limit), model served: each failing check with a copy-paste fix."""
    found = [_key_present(self)]
    if self._key:
        found.append(await _key_valid(self))
    found.append(await _model_check(self, model))
    return found


def _key_present(self: OpenRouterProvider) -> PreflightCheck:
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


async def _key_valid(self: OpenRouterProvider) -> PreflightCheck:
    try:
        response = await self._send("GET", "/key")
        if response.status_code == 404:  # older gateways only serve the legacy path
            response = await self._send("GET", "/auth/key")
    except e.ProviderError as exc:
        return PreflightCheck(name="api_key_valid", ok=False, detail=exc.message, fix=exc.fix)
    data = json_of(response)
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


async def _model_check(self: OpenRouterProvider, model: str) -> PreflightCheck:
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
