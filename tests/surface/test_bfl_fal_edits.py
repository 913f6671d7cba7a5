"""Every edit_image mode and upscale_image mode bfl and fal offer, and generate_image with references,
through a real MCP client against their loopback emulators: the endpoint each reaches and what it carries."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.bfl import BFLEmulator
from tests.emulator.fal import FalEmulator

pytestmark = pytest.mark.anyio


def png(width: int, height: int, colour: Any = (10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


PICTURE = png(96, 64)
STYLE = png(64, 64, (200, 40, 40))


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "picture.png").write_bytes(PICTURE)
    (folder / "style.png").write_bytes(STYLE)
    (folder / "face.png").write_bytes(png(64, 64, (30, 30, 30)))
    return folder


@pytest.fixture
async def client(tmp_path: Path, work: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator) -> AsyncIterator[Client]:
    env = {
        "BFL_API_KEY": bfl_emu.api_key,
        "BFL_BASE_URL": bfl_emu.base_url,
        "FAL_KEY": fal_emu.api_key,
        "FAL_QUEUE_URL": fal_emu.queue_url,
    }
    settings = Settings(
        output_dir=tmp_path / "out",
        queue_dir=tmp_path / "queue",
        provider="auto",
        workspace=(work,),
        provider_env=env,
        retry_backoff_s=0.01,
        request_timeout_s=10,
    )
    async with Client(build_server(settings)) as c:
        yield c


BFL_EDITS = [
    ("edit", {"prompt": "make the sky orange"}, "/v1/flux-kontext-pro"),
    ("inpaint", {"prompt": "a round window", "mask_box": [0, 0, 0.5, 0.5]}, "/v1/flux-pro-1.0-fill"),
    ("erase", {"mask_box": [0.5, 0.5, 1, 1]}, "/v1/flux-pro-1.0-fill"),
    ("outpaint", {"expand": {"left": 32, "down": 16}}, "/v1/flux-pro-1.0-expand"),
    ("outpaint", {"aspect_ratio": "16:9"}, "/v1/flux-pro-1.0-expand"),
    ("style_transfer", {"style_image": "style.png"}, "/v1/flux-kontext-pro"),
    ("variation", {}, "/v1/flux-pro-1.1-ultra"),
]
FAL_EDITS = [
    ("edit", {"prompt": "make the sky orange", "strength": 0.5}, "/fal-ai/flux/dev/image-to-image"),
    (
        "edit",
        {"prompt": "put this person on the bench", "references": ["face.png"], "consistency": "strict"},
        "/fal-ai/flux-pro/kontext/multi",
    ),
    ("inpaint", {"prompt": "a round window", "mask_box": [0, 0, 0.5, 0.5]}, "/fal-ai/flux-pro/v1/fill"),
    ("erase", {"mask_box": [0.5, 0.5, 1, 1]}, "/fal-ai/flux-pro/v1/fill"),
    ("outpaint", {"expand": {"right": 32}}, "/fal-ai/flux-pro/v1/fill"),
    ("style_transfer", {"style_image": "style.png"}, "/fal-ai/flux-pro/kontext/multi"),
    ("variation", {}, "/fal-ai/flux/dev/redux"),
]


def _args(work: Path, mode: str, extra: dict[str, Any], provider: str) -> dict[str, Any]:
    args = {"image": str(work / "picture.png"), "mode": mode, "provider": provider, "confirm_external_upload": True}
    for key, value in extra.items():
        if key == "style_image":
            value = str(work / value)
        elif key == "references":
            value = [str(work / v) for v in value]
        args[key] = value
    return args


@pytest.mark.parametrize(("mode", "extra", "path"), BFL_EDITS)
async def test_every_bfl_edit_mode_reaches_its_flux_endpoint(
    client: Client, bfl_emu: BFLEmulator, work: Path, mode: str, extra: dict[str, Any], path: str
) -> None:
    result = await client.call_tool("edit_image", _args(work, mode, extra, "bfl"))
    assert not result.is_error, text_of(result)
    [sent] = bfl_emu.submits()
    assert sent.path == path
    data = result.structured_content
    assert data["operation"] == mode and data["provider"] == "bfl" and data["cost_usd"] > 0
    if mode == "style_transfer":
        assert base64.b64decode(sent.json["input_image_2"]) == STYLE
    if mode in ("inpaint", "erase"):
        assert base64.b64decode(sent.json["image"]) == PICTURE
    if mode == "outpaint":
        with Image.open(data["images"][0]["path"]) as img:
            assert img.size == ((114, 64) if "aspect_ratio" in extra else (128, 80))  # 16:9 to the pixel


@pytest.mark.parametrize(("mode", "extra", "path"), FAL_EDITS)
async def test_every_fal_edit_mode_reaches_its_endpoint(
    client: Client, fal_emu: FalEmulator, work: Path, mode: str, extra: dict[str, Any], path: str
) -> None:
    result = await client.call_tool("edit_image", _args(work, mode, extra, "fal"))
    assert not result.is_error, text_of(result)
    [sent] = fal_emu.submits()
    assert sent.path == path
    assert result.structured_content["operation"] == mode and result.structured_content["provider"] == "fal"
    if "references" in extra:
        assert len(sent.json["image_urls"]) == 2 and "Keep the subject" in sent.json["prompt"]
    if mode == "edit" and "strength" in extra:
        assert sent.json["strength"] == 0.5


@pytest.mark.parametrize(
    ("scale", "mode", "prompt", "path", "size"),
    [
        (4, "fast", None, "/fal-ai/esrgan", (384, 256)),
        (2, "conservative", None, "/fal-ai/clarity-upscaler", (192, 128)),
        (2, "creative", "crisp brick texture", "/fal-ai/clarity-upscaler", (192, 128)),
    ],
)
async def test_every_upscale_mode_goes_to_a_fal_upscaler(
    client: Client,
    fal_emu: FalEmulator,
    work: Path,
    scale: int,
    mode: str,
    prompt: str | None,
    path: str,
    size: tuple[int, int],
) -> None:
    args: dict[str, Any] = {
        "image": str(work / "picture.png"),
        "scale": scale,
        "mode": mode,
        "provider": "fal",
        "confirm_external_upload": True,
    }
    if prompt:
        args["prompt"] = prompt
    result = await client.call_tool("upscale_image", args)
    assert not result.is_error, text_of(result)
    [sent] = fal_emu.submits()
    assert sent.path == path and (prompt is None or sent.json["prompt"] == prompt)
    with Image.open(result.structured_content["images"][0]["path"]) as img:
        assert img.size == size
    assert result.structured_content["operation"] == "upscale"


async def test_bfl_offers_no_upscale_and_says_which_provider_does(client: Client, work: Path) -> None:
    result = await client.call_tool(
        "upscale_image", {"image": str(work / "picture.png"), "provider": "bfl", "confirm_external_upload": True}
    )
    assert result.is_error and "bfl cannot do upscale" in text_of(result) and "fal" in text_of(result)


@pytest.mark.parametrize(("provider", "path"), [("bfl", "/v1/flux-kontext-pro"), ("fal", "/fal-ai/pulid")])
async def test_generate_with_references_and_consistency_reaches_a_reference_model(
    client: Client, bfl_emu: BFLEmulator, fal_emu: FalEmulator, work: Path, provider: str, path: str
) -> None:
    refs = [str(work / "face.png"), str(work / "style.png")]
    result = await client.call_tool(
        "generate_image",
        {
            "prompt": "The same woman reading on a park bench, morning light",
            "references": refs,
            "consistency": "strict",
            "provider": provider,
            "confirm_external_upload": True,
        },
    )
    assert not result.is_error, text_of(result)
    [sent] = (bfl_emu if provider == "bfl" else fal_emu).submits()
    assert sent.path == path
    if provider == "fal":
        assert len(sent.json["reference_images"]) == 2 and sent.json["id_scale"] == 1.0
    else:
        assert "input_image_2" in sent.json and "Keep the subject" in sent.json["prompt"]
