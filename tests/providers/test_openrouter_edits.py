"""The openrouter provider's edits by instruction against the loopback emulator: what arrives, in what order."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.providers import openrouter_operations as ops
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.openai_operations import CONSISTENCY, CUT_OUT, STYLE, VARIATION
from imagegen_mcp.providers.openrouter import TRANSPARENT_DEFAULT, OpenRouterProvider
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

GEMINI = "google/gemini-3.1-flash-image-preview"


def png(width: int, height: int, colour: Any = (10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chats(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


def image_posts(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path.endswith("/images")]


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def clear_pixels(data: bytes) -> int:
    im = opened(data)
    return im.convert("RGBA").getchannel("A").histogram()[0] if "A" in im.mode else 0


@pytest.fixture
async def provider(emulator: Emulator) -> AsyncIterator[OpenRouterProvider]:
    async with httpx2.AsyncClient(timeout=10) as http:
        yield OpenRouterProvider(
            SharedClient(client=http), api_key=emulator.api_key, base_url=emulator.base_url, backoff_s=0.01
        )


PICTURE = png(96, 64)  # 3:2, so the chat answer (1248x832 / 16) has the same shape and is composited


async def test_an_inpaint_sends_the_image_then_a_magenta_overlay_of_exactly_the_mask_and_an_instruction(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    mask = masks.mask_from_box(96, 64, (0.0, 0.0, 0.5, 0.5))  # 48 x 32 pixels to change
    request = ProviderRequest(prompt="a round window", model=GEMINI, operation="inpaint",
                              input_images=(data_url(PICTURE),), mask=data_url(mask))  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = chats(emulator)
    image, overlay = sent.input_images
    assert sha(image) == sha(PICTURE)
    magenta = opened(overlay).convert("RGB").getcolors()
    assert magenta is not None and dict((c, n) for n, c in magenta)[ops.MAGENTA] == 48 * 32  # polarity: white = change
    assert sent.prompt == f"{ops.INPAINT} a round window"
    assert sent.json["image_config"] == {"aspect_ratio": "3:2"}
    assert result.metadata["operation"] == "inpaint" and "magenta overlay" in result.metadata["mapping"][0]


async def test_an_inpaint_answer_keeps_every_pixel_outside_the_mask(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    mask = masks.mask_from_box(96, 64, (0.5, 0.5, 1.0, 1.0))
    request = ProviderRequest(prompt="a cat", model=GEMINI, operation="inpaint",
                              input_images=(data_url(PICTURE),), mask=data_url(mask))  # fmt: skip
    result = await provider.run(request, Call())
    out = opened(result.images[0].data).convert("RGB")
    assert out.size == (96, 64)
    assert out.getpixel((5, 5)) == (10, 120, 200) and out.getpixel((40, 28)) == (10, 120, 200)  # kept
    assert out.getpixel((80, 50)) != (10, 120, 200)  # the model's pixels inside the mask


async def test_erase_asks_to_fill_the_marked_area_with_the_background(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    mask = masks.mask_from_box(96, 64, (0.25, 0.25, 0.75, 0.75))
    request = ProviderRequest(prompt="", model=GEMINI, operation="erase",
                              input_images=(data_url(PICTURE),), mask=data_url(mask))  # fmt: skip
    await provider.run(request, Call())
    [sent] = chats(emulator)
    assert sent.prompt == ops.ERASE and len(sent.input_images) == 2


async def test_an_edit_sends_the_image_then_the_references_in_order_with_consistency_and_strength(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    refs = [png(32, 32, (200, 0, 0)), png(32, 32, (0, 200, 0)), png(32, 32, (0, 0, 200))]
    request = ProviderRequest(prompt="put her in a red coat", model=GEMINI, operation="edit",
                              input_images=(data_url(PICTURE), *(data_url(r) for r in refs)),
                              options={"consistency": "strict", "strength": 0.2})  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = chats(emulator)
    assert sent.input_hashes == [sha(PICTURE), *(sha(r) for r in refs)]
    assert sent.prompt == f"put her in a red coat {CONSISTENCY['strict']} {ops.STRENGTH[0][1]}"
    assert result.metadata["mapping"] == ["consistency strict as an instruction", "strength 0.2 as an instruction"]


async def test_references_on_the_image_api_go_as_input_references_in_order(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    refs = [png(32, 32, (200, 0, 0)), png(32, 32, (0, 200, 0))]
    images = tuple(data_url(r) for r in refs)
    request = ProviderRequest(prompt="the same fox, sleeping", model="bytedance-seed/seedream-4.5",
                              input_images=images, options={"consistency": "balanced"})  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = image_posts(emulator)
    assert sent.input_hashes == [sha(r) for r in refs]
    assert sent.json["prompt"] == f"the same fox, sleeping {CONSISTENCY['balanced']}"
    assert result.metadata["sent"]["input_images"] == 2 and result.metadata["surface"] == "images"


async def test_style_transfer_sends_the_content_then_the_style_image(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    style = png(32, 32, (250, 200, 0))
    request = ProviderRequest(prompt="", model=GEMINI, operation="style_transfer",
                              input_images=(data_url(PICTURE),), options={"style_image": data_url(style)})  # fmt: skip
    await provider.run(request, Call())
    [sent] = chats(emulator)
    assert sent.input_hashes == [sha(PICTURE), sha(style)] and sent.prompt == STYLE


async def test_three_variations_on_chat_are_three_calls_and_their_metadata_is_kept(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    request = ProviderRequest(prompt="", model=GEMINI, operation="variation", n=3, input_images=(data_url(PICTURE),))
    result = await provider.run(request, Call())
    sent = chats(emulator)
    assert len(sent) == 3 and {r.prompt for r in sent} == {VARIATION} and len(result.images) == 3
    responses = result.metadata["responses"]
    assert sorted(r["generation_id"] for r in responses) == sorted(r.generation_id for r in sent)
    assert {r["native_finish_reason"] for r in responses} == {"STOP"} and all(r["usage"]["cost"] for r in responses)
    assert "b64" not in repr(result.metadata) and "data:image" not in repr(result.metadata)


async def test_negative_prompt_becomes_an_avoid_sentence(provider: OpenRouterProvider, emulator: Emulator) -> None:
    await provider.run(ProviderRequest(prompt="a beach", model=GEMINI, negative_prompt="people, boats."), Call())
    assert chats(emulator)[0].prompt == "a beach Avoid: people, boats."


async def test_remove_background_uses_a_model_with_transparency_and_returns_real_alpha(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    assert provider.capabilities.default_models["remove_background"] == TRANSPARENT_DEFAULT
    request = ProviderRequest(prompt="", model=TRANSPARENT_DEFAULT, operation="remove_background",
                              input_images=(data_url(PICTURE),))  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = image_posts(emulator)
    assert sent.json["background"] == "transparent" and sent.json["output_format"] == "png"
    assert sent.json["prompt"] == CUT_OUT and sent.input_hashes == [sha(PICTURE)]
    assert result.images[0].mime_type == "image/png" and clear_pixels(result.images[0].data) > 0


async def test_a_transparent_generate_on_the_default_model_moves_to_a_model_that_makes_alpha(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    request = ProviderRequest(prompt="a logo", model=GEMINI, background="transparent")
    result = await provider.run(request, Call())
    assert chats(emulator) == [] and image_posts(emulator)[0].json["model"] == TRANSPARENT_DEFAULT
    assert result.model == TRANSPARENT_DEFAULT and clear_pixels(result.images[0].data) > 0
    assert f"{GEMINI} cannot make a transparent background" in result.metadata["mapping"][0]


async def test_a_named_model_without_transparency_is_refused_before_any_request(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    request = ProviderRequest(prompt="a logo", model="black-forest-labs/flux.2-pro", background="transparent")
    with pytest.raises(e.BadRequestError) as info:
        await provider.run(request, Call())
    assert "nothing was sent" in info.value.message and TRANSPARENT_DEFAULT in info.value.fix
    assert chats(emulator) == [] and image_posts(emulator) == []


async def test_openai_image_models_on_chat_take_background_and_output_format_through_image_config(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    request = ProviderRequest(prompt="a logo", model="openai/gpt-5-image-mini", background="transparent",
                              output_format="webp")  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = chats(emulator)
    assert sent.json["image_config"] == {"background": "transparent", "output_format": "webp"}
    assert result.images[0].mime_type == "image/webp" and clear_pixels(result.images[0].data) > 0


async def test_an_opaque_answer_has_no_alpha_and_a_checkerboard_fake_arrives_opaque(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    plain = await provider.run(ProviderRequest(prompt="a logo", model=TRANSPARENT_DEFAULT), Call())
    assert clear_pixels(plain.images[0].data) == 0
    emulator.push_fault(Fault("checkerboard"))
    faked = await provider.run(ProviderRequest(prompt="a logo", model=TRANSPARENT_DEFAULT, background="transparent"),
                               Call())  # fmt: skip
    assert image_posts(emulator)[-1].json["background"] == "transparent"
    assert clear_pixels(faked.images[0].data) == 0  # painted, not transparent: the surface's alpha check catches it


async def test_an_output_format_the_model_does_not_take_is_made_here(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    result = await provider.run(ProviderRequest(prompt="a beach", model=GEMINI, output_format="jpeg"), Call())
    assert "output_format" not in chats(emulator)[0].json.get("image_config", {})
    assert result.images[0].mime_type == "image/jpeg"
    assert result.metadata["mapping"] == ["re-encoded to jpeg here (the model does not take output_format)"]


async def test_openrouter_declares_no_outpaint_or_upscale_and_no_seed_anywhere(provider: OpenRouterProvider) -> None:
    caps = provider.capabilities
    assert not caps.supports("outpaint") and not caps.supports("upscale")
    assert all("seed" not in args for args in caps.operations.values())
    assert caps.unhonoured("inpaint", frozenset({"mask", "aspect_ratio"})) == {"aspect_ratio"}
    assert caps.unhonoured("edit", frozenset({"strength", "consistency", "input_images"})) == frozenset()
