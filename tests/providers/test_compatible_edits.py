"""The compatible provider's edits against the gateway emulator: /images/edits probed once, masks in OpenAI's
form for models the data file does not know, and honest declarations."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.compatible import CompatibleProvider
from imagegen_mcp.providers.http import SharedClient
from tests.emulator.openai import ModelSpec, OpenAIEmulator

pytestmark = pytest.mark.anyio


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def posts(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST"]


PICTURE = data_url(png(96, 64))


@pytest.fixture
async def provider(gateway: OpenAIEmulator) -> AsyncIterator[CompatibleProvider]:
    gateway.models = [ModelSpec("flux-kontext-pro", transparency=False)]
    async with httpx2.AsyncClient(timeout=10) as client:
        yield CompatibleProvider(SharedClient(client=client), api_key=gateway.api_key, base_url=gateway.root_url,
                                 backoff_s=0.01)  # fmt: skip


async def test_the_edits_endpoint_is_probed_once_without_an_image_and_then_used(
    provider: CompatibleProvider, gateway: OpenAIEmulator
) -> None:
    mask = data_url(masks.mask_from_box(96, 64, (0, 0, 0.5, 1)))
    for _ in range(2):
        request = ProviderRequest(prompt="a door", model="flux-kontext-pro", operation="inpaint",
                                  input_images=(PICTURE,), mask=mask)  # fmt: skip
        await provider.run(request, Call())
    probe, *edits = posts(gateway)
    assert probe.path == "/v1/images/edits" and probe.parts == [] and probe.status == 400
    assert len(edits) == 2 and all(r.parts[1].transparent_pixels == 48 * 64 for r in edits)


async def test_a_gateway_without_edits_is_a_fallback_class_error_with_nothing_uploaded(
    provider: CompatibleProvider, gateway: OpenAIEmulator
) -> None:
    gateway.edits_route = "missing"
    request = ProviderRequest(prompt="a door", model="flux-kontext-pro", operation="edit", input_images=(PICTURE,))
    for _ in range(2):
        with pytest.raises(e.ModelNotFoundError) as info:
            await provider.run(request, Call())
        assert info.value.code == "endpoint_not_found"
    assert [(r.path, r.parts) for r in posts(gateway)] == [("/v1/images/edits", [])]  # probed once, nothing sent
    await provider.run(ProviderRequest(prompt="a door", model="flux-kontext-pro"), Call())  # generate still works


async def test_a_model_the_data_file_does_not_know_cannot_remove_a_background(
    provider: CompatibleProvider, gateway: OpenAIEmulator
) -> None:
    request = ProviderRequest(prompt="", model="flux-kontext-pro", operation="remove_background",
                              input_images=(PICTURE,))  # fmt: skip
    with pytest.raises(e.BadRequestError, match="cannot do remove_background"):
        await provider.run(request, Call())
    assert posts(gateway) == []


async def test_remove_background_defaults_to_a_model_with_transparency(provider: CompatibleProvider) -> None:
    caps = provider.capabilities
    model = caps.default_models["remove_background"]
    assert provider.catalogue.models[model].transparency and caps.default_models["edit"] == "gpt-image-2"
