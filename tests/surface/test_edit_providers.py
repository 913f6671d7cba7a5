"""edit_image through a real MCP client against the OpenRouter and gateway emulators: each mode openrouter and
compatible declare, what reaches the provider (instruction, images in order, mask), and transparency on the
saved bytes (a checkerboard painted instead of alpha is caught)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.providers import openrouter_operations as ops
from imagegen_mcp.providers.openai_operations import CUT_OUT, STYLE, VARIATION
from imagegen_mcp.surface.server import build_server
from tests.emulator.openai import ModelSpec, OpenAIEmulator
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio


def png(width: int, height: int, colour: Any = (10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def generations(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path.endswith(("/chat/completions", "/images"))]


def saved_alpha(result: Any) -> int:
    """Transparent pixels in the saved file (0 when it has no alpha channel)."""
    with Image.open(result.structured_content["images"][0]["path"]) as im:
        return im.convert("RGBA").getchannel("A").histogram()[0] if "A" in im.mode else 0


PICTURE = png(96, 64)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    path = tmp_path / "work" / "picture.png"
    path.write_bytes(PICTURE)
    return path


@pytest.fixture
async def openrouter(tmp_path: Path, emulator: Emulator) -> AsyncIterator[Client]:
    settings = Settings(
        output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider="openrouter", api_key=emulator.api_key,
        base_url=emulator.base_url, workspace=(tmp_path / "work",), retry_backoff_s=0.01, request_timeout_s=10,
    )  # fmt: skip
    async with Client(build_server(settings)) as c:
        yield c


@pytest.fixture
async def compatible(tmp_path: Path, gateway: OpenAIEmulator) -> AsyncIterator[Client]:
    gateway.models = [ModelSpec("flux-kontext-pro", transparency=False)]
    settings = Settings(
        output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider="compatible",
        workspace=(tmp_path / "work",), retry_backoff_s=0.01, request_timeout_s=10,
        provider_env={"IMAGE_API_KEY": gateway.api_key, "IMAGE_BASE_URL": gateway.root_url},
    )  # fmt: skip
    async with Client(build_server(settings)) as c:
        yield c


async def edit(client: Client, picture: Path, **arguments: Any) -> Any:
    result = await client.call_tool("edit_image", {"image": str(picture), "confirm_external_upload": True, **arguments})
    return result


async def test_openrouter_inpaints_with_a_mask_overlay_and_keeps_the_pixels_outside_it(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    result = await edit(openrouter, picture, mode="inpaint", prompt="a round window", mask_box=[0.5, 0.5, 1, 1])
    assert not result.is_error, text_of(result)
    [sent] = generations(emulator)
    image, overlay = sent.input_images
    assert sha(image) == sha(PICTURE) and sent.prompt == f"{ops.INPAINT} a round window"
    colours = {c: n for n, c in Image.open(io.BytesIO(overlay)).convert("RGB").getcolors() or []}
    assert colours[ops.MAGENTA] == 48 * 32
    data = result.structured_content
    assert data["operation"] == "inpaint" and data["provider"] == "openrouter" and data["cost_usd"] > 0
    assert (data["images"][0]["width"], data["images"][0]["height"]) == (96, 64)
    with Image.open(data["images"][0]["path"]) as saved:
        assert saved.convert("RGB").getpixel((5, 5)) == (10, 120, 200)


async def test_openrouter_erases_with_the_fill_instruction(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    result = await edit(openrouter, picture, mode="erase", mask_box=[0.25, 0.25, 0.75, 0.75])
    assert not result.is_error, text_of(result)
    assert generations(emulator)[0].prompt.startswith(ops.ERASE)


async def test_openrouter_edits_with_the_image_first_then_the_style_image(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    style = picture.parent / "style.png"
    style.write_bytes(png(32, 32, (250, 200, 0)))
    result = await edit(openrouter, picture, mode="style_transfer", style_image=str(style))
    assert not result.is_error, text_of(result)
    [sent] = generations(emulator)
    assert sent.input_hashes == [sha(PICTURE), sha(style.read_bytes())] and sent.prompt.startswith(STYLE)


async def test_openrouter_makes_three_variations_in_three_calls(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    result = await edit(openrouter, picture, mode="variation", n=3)
    assert not result.is_error, text_of(result)
    sent = generations(emulator)
    assert len(sent) == 3 and all(r.prompt.startswith(VARIATION) for r in sent)
    assert len(result.structured_content["images"]) == 3


async def test_openrouter_edit_by_instruction_sends_the_instruction_and_the_image(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    result = await edit(openrouter, picture, mode="edit", prompt="make the sky orange")
    assert not result.is_error, text_of(result)
    [sent] = generations(emulator)
    assert sent.input_hashes == [sha(PICTURE)] and sent.prompt.startswith("make the sky orange")


async def test_openrouter_removes_a_background_with_real_alpha_in_the_saved_file(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    result = await edit(openrouter, picture, mode="remove_background")
    assert not result.is_error, text_of(result)
    [sent] = generations(emulator)
    assert sent.path.endswith("/images") and sent.json["background"] == "transparent"
    assert sent.json["prompt"].startswith(CUT_OUT)
    assert saved_alpha(result) > 0


async def test_a_painted_checkerboard_is_not_passed_off_as_a_transparent_background(
    openrouter: Client, emulator: Emulator, picture: Path
) -> None:
    emulator.push_fault(Fault("checkerboard"))
    result = await edit(openrouter, picture, mode="remove_background")
    assert not result.is_error, text_of(result)
    assert saved_alpha(result) == 0 and result.structured_content["images"][0]["transparent"] is False
    [hint] = [h for h in result.structured_content["hints"] if h["rule"] == "not-transparent"]
    assert "mode=remove_background" in hint["fix"]


async def test_openrouter_does_not_take_an_outpaint(openrouter: Client, emulator: Emulator, picture: Path) -> None:
    result = await edit(openrouter, picture, mode="outpaint", expand={"left": 32})
    assert result.is_error and "outpaint" in text_of(result)
    assert generations(emulator) == []


async def test_compatible_inpaints_through_the_gateways_edits_endpoint_with_an_alpha_mask(
    compatible: Client, gateway: OpenAIEmulator, picture: Path
) -> None:
    result = await edit(compatible, picture, mode="inpaint", prompt="a kite", mask_box=[0, 0, 0.5, 0.5])
    assert not result.is_error, text_of(result)
    probe, sent = [r for r in gateway.requests if r.method == "POST"]
    assert probe.path == "/v1/images/edits" and probe.parts == [] and probe.status == 400
    assert sent.path == "/v1/images/edits" and sent.fields["model"] == ["flux-kontext-pro"]
    image, mask = sent.parts
    assert image.sha256 == sha(PICTURE) and (mask.width, mask.height) == (96, 64)
    assert mask.transparent_pixels == 48 * 32
    assert result.structured_content["provider"] == "compatible"


@pytest.mark.parametrize("mode", ["edit", "variation", "erase"])
async def test_compatible_takes_the_other_edit_modes_through_the_same_endpoint(
    compatible: Client, gateway: OpenAIEmulator, picture: Path, mode: str
) -> None:
    extra: dict[str, Any] = {"mask_box": [0, 0, 0.5, 0.5]} if mode == "erase" else {}
    result = await edit(compatible, picture, mode=mode, prompt="a kite" if mode == "edit" else "", **extra)
    assert not result.is_error, text_of(result)
    assert [r.path for r in gateway.requests if r.method == "POST"][-1] == "/v1/images/edits"
    assert result.structured_content["operation"] == mode


async def test_a_gateway_without_an_edits_endpoint_is_refused_before_any_upload(
    compatible: Client, gateway: OpenAIEmulator, picture: Path
) -> None:
    gateway.edits_route = "missing"
    result = await edit(compatible, picture, mode="edit", prompt="a kite")
    assert result.is_error and "/images/edits" in text_of(result)
    [probe] = [r for r in gateway.requests if r.method == "POST"]
    assert probe.parts == [] and probe.status == 404
