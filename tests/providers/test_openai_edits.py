"""The openai provider's edit operations against the loopback emulator: what reaches /images/edits, in what form."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.config import Settings
from imagegen_mcp.imaging import masks
from imagegen_mcp.providers import openai_operations as ops
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.openai import OpenAIProvider
from imagegen_mcp.providers.registry import NAMES, Providers
from imagegen_mcp.queue.health import Health
from imagegen_mcp.routing import Preferences, Router
from tests.emulator.openai import OpenAIEmulator

pytestmark = pytest.mark.anyio


def png(width: int, height: int, colour: Any = (10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def edits(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.api_path.startswith("/images/")]


@pytest.fixture
async def http() -> AsyncIterator[SharedClient]:
    async with httpx2.AsyncClient(timeout=10) as client:
        yield SharedClient(client=client)


@pytest.fixture
def provider(openai_emu: OpenAIEmulator, http: SharedClient) -> OpenAIProvider:
    return OpenAIProvider(http, api_key=openai_emu.api_key, base_url=openai_emu.base_url, backoff_s=0.01)


PICTURE = png(96, 64)


async def test_an_inpaint_mask_arrives_as_an_alpha_mask_the_image_size_with_the_marked_pixels_transparent(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    mask = masks.mask_from_box(96, 64, (0.0, 0.0, 0.5, 0.5))  # 48 x 32 white pixels
    request = ProviderRequest(prompt="a round window", model="gpt-image-2", operation="inpaint",
                              input_images=(data_url(PICTURE),), mask=data_url(mask))  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert sent.api_path == "/images/edits"
    image, alpha = sent.parts
    assert (image.name, image.sha256) == ("image[]", sha(PICTURE))
    assert alpha.name == "mask" and alpha.sha256 == sha(masks.to_alpha_mask(mask))
    assert (alpha.width, alpha.height, alpha.mode) == (96, 64, "RGBA")
    assert alpha.transparent_pixels == 48 * 32  # polarity: exactly the white (change) pixels are transparent
    assert sent.fields["prompt"] == ["a round window"]
    assert result.metadata["request_id"] == sent.request_id and result.metadata["usage"]["output_tokens"] > 0
    assert "b64_json" not in repr(result.metadata)


async def test_erase_is_an_inpaint_with_a_fill_with_the_background_instruction(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    mask = masks.mask_from_box(96, 64, (0.5, 0.5, 1.0, 1.0))
    request = ProviderRequest(prompt="the lamp post", model="gpt-image-2", operation="erase",
                              input_images=(data_url(PICTURE),), mask=data_url(mask))  # fmt: skip
    await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert sent.fields["prompt"] == [f"{ops.ERASE} the lamp post"]
    assert [p.name for p in sent.parts] == ["image[]", "mask"] and sent.parts[1].transparent_pixels == 48 * 32


async def test_outpaint_sends_the_grown_canvas_with_its_border_as_the_mask_and_the_canvas_size(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    expand = {"left": 32, "right": 32, "up": 0, "down": 0}
    request = ProviderRequest(prompt="more beach", model="gpt-image-2", operation="outpaint",
                              input_images=(data_url(PICTURE),), options={"expand": expand})  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = edits(openai_emu)
    canvas, mask = sent.parts
    border = 64 * 64  # two 32 px strips, 64 px high
    assert (canvas.width, canvas.height, canvas.mode) == (160, 64, "RGBA") and canvas.transparent_pixels == border
    assert (mask.width, mask.height) == (160, 64) and mask.transparent_pixels == border
    assert sent.fields["size"] == ["160x64"] and sent.fields["prompt"] == [f"{ops.OUTPAINT} more beach"]
    assert Image.open(io.BytesIO(result.images[0].data)).size == (160, 64)


async def test_references_reach_edits_in_order_and_strict_consistency_asks_for_high_input_fidelity(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    refs = [png(64, 64, (200, 0, 0)), png(64, 64, (0, 200, 0)), png(64, 64, (0, 0, 200))]
    images = tuple(data_url(r) for r in refs)
    request = ProviderRequest(prompt="the same girl, waving", model="gpt-image-1.5", input_images=images,
                              options={"consistency": "strict"})  # fmt: skip
    await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert [p.sha256 for p in sent.parts] == [sha(r) for r in refs]
    assert sent.fields["input_fidelity"] == ["high"]
    assert sent.fields["prompt"] == [f"the same girl, waving {ops.CONSISTENCY['strict']}"]


async def test_gpt_image_2_is_never_sent_input_fidelity_but_still_told_how_closely_to_follow(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    request = ProviderRequest(prompt="the same girl", model="gpt-image-2", input_images=(data_url(PICTURE),),
                              options={"consistency": "loose"})  # fmt: skip
    await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert "input_fidelity" not in sent.fields and ops.CONSISTENCY["loose"] in sent.fields["prompt"][0]


async def test_style_transfer_sends_the_content_then_the_style_image(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    style = png(64, 64, (250, 200, 0))
    request = ProviderRequest(prompt="", model="gpt-image-2", operation="style_transfer",
                              input_images=(data_url(PICTURE),), options={"style_image": data_url(style)})  # fmt: skip
    await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert [p.sha256 for p in sent.parts] == [sha(PICTURE), sha(style)]
    assert sent.fields["prompt"] == [ops.STYLE]


async def test_variations_of_a_gpt_image_model_go_through_edits_with_an_instruction(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    request = ProviderRequest(prompt="", model="gpt-image-2", operation="variation", n=3,
                              input_images=(data_url(PICTURE),))  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert sent.api_path == "/images/edits" and sent.fields["prompt"] == [ops.VARIATION] and sent.fields["n"] == ["3"]
    assert len(result.images) == 3 and "variation through /images/edits" in result.metadata["mapping"][0]


async def test_remove_background_asks_a_transparency_model_for_a_transparent_png(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    model = provider.capabilities.default_models["remove_background"]
    request = ProviderRequest(prompt="", model=model, operation="remove_background", input_images=(data_url(PICTURE),))
    result = await provider.run(request, Call())
    [sent] = edits(openai_emu)
    assert sent.fields["background"] == ["transparent"] and sent.fields["output_format"] == ["png"]
    assert sent.fields["prompt"] == [ops.CUT_OUT]
    im = Image.open(io.BytesIO(result.images[0].data))
    assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 0


@pytest.mark.parametrize(
    "request_",
    [
        ProviderRequest(prompt="", model="gpt-image-2", operation="remove_background", input_images=("data:,",)),
        ProviderRequest(prompt="a logo", model="gpt-image-2", background="transparent"),
    ],
)
async def test_gpt_image_2_transparency_is_refused_before_any_request_naming_a_model_that_can(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator, request_: ProviderRequest
) -> None:
    with pytest.raises(e.BadRequestError) as info:
        await provider.run(request_, Call())
    assert "gpt-image-2.5-sunburst" in info.value.fix and "nothing was sent" in info.value.message
    assert edits(openai_emu) == []


async def test_an_edit_refused_by_moderation_is_not_retried(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.fault("moderation", path="/images/edits", times=None)
    call = Call()
    request = ProviderRequest(prompt="x", model="gpt-image-2", operation="edit", input_images=(data_url(PICTURE),))
    with pytest.raises(e.ModerationError):
        await provider.run(request, call)
    assert len(edits(openai_emu)) == 1 and [a.ok for a in call.attempts] == [False]


async def test_an_argument_openai_cannot_honour_leaves_it_out_of_the_chain(
    tmp_path: Path, openai_emu: OpenAIEmulator
) -> None:
    env = {"OPENAI_API_KEY": openai_emu.api_key, "OPENAI_BASE_URL": openai_emu.base_url}
    settings = Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "q", provider_env=env)
    health = Health(tmp_path / "q", cooldown_s=60)
    router = Router(Providers(settings, SharedClient()), SharedClient(), order=NAMES, default="auto",
                    preferences=Preferences(("placeholder",)), health=health)  # fmt: skip
    request = ProviderRequest(prompt="a door", model="", operation="edit", input_images=("data:,",))
    assert (await router.chain(request)).describe() == ["placeholder:placeholder", "openai:gpt-image-2"]
    for argument in ({"seed": 7}, {"negative_prompt": "blur"}, {"options": {"strength": 0.3}}):
        chain = await router.chain(ProviderRequest(prompt="a door", model="", operation="edit",
                                                   input_images=("data:,",), **argument))  # type: ignore[arg-type]  # fmt: skip
        assert chain.describe() == ["placeholder:placeholder"]
    with pytest.raises(e.RequestError, match="openai: does not do upscale"):
        await router.chain(ProviderRequest(prompt="", model="", operation="upscale", input_images=("data:,",)),
                           preferences=Preferences(blocked=frozenset({"placeholder"})))  # fmt: skip
    assert edits(openai_emu) == []
