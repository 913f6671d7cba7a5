"""edit_image through a real MCP client against the loopback OpenAI emulator: what reaches /images/edits,
in what form (mask polarity, canvas size, references in order), and refusals with nothing sent."""

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
from imagegen_mcp.imaging import masks
from imagegen_mcp.surface.server import build_server
from tests.emulator.openai import OpenAIEmulator

pytestmark = pytest.mark.anyio


def png(width: int, height: int, colour: Any = (10, 120, 200), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def posts(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and "/images/" in r.path]


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


PICTURE = png(96, 64)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    path = tmp_path / "work" / "picture.png"
    path.write_bytes(PICTURE)
    return path


@pytest.fixture
async def client(tmp_path: Path, openai_emu: OpenAIEmulator) -> AsyncIterator[Client]:
    settings = Settings(
        output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider="openai", workspace=(tmp_path / "work",),
        provider_env={"OPENAI_API_KEY": openai_emu.api_key, "OPENAI_BASE_URL": openai_emu.base_url},
        retry_backoff_s=0.01, request_timeout_s=10,
    )  # fmt: skip
    async with Client(build_server(settings)) as c:
        yield c


async def test_an_inpaint_box_reaches_openai_as_an_alpha_mask_with_exactly_the_box_transparent(
    client: Client, openai_emu: OpenAIEmulator, picture: Path
) -> None:
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "inpaint", "prompt": "a round window",
                       "mask_box": [0, 0, 0.5, 0.5], "confirm_external_upload": True},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    [sent] = posts(openai_emu)
    image, mask = sent.parts
    assert sent.api_path == "/images/edits" and image.sha256 == sha(PICTURE)
    assert mask.name == "mask" and (mask.width, mask.height, mask.mode) == (96, 64, "RGBA")
    assert mask.transparent_pixels == 48 * 32
    assert mask.sha256 == sha(masks.to_alpha_mask(masks.mask_from_box(96, 64, (0, 0, 0.5, 0.5))))
    data = result.structured_content
    assert data["operation"] == "inpaint" and data["provider"] == "openai" and "cost_usd" in data
    assert [a["ok"] for a in data["attempts"]] == [True]


async def test_a_black_and_white_mask_file_reaches_openai_with_white_turned_transparent(
    client: Client, openai_emu: OpenAIEmulator, picture: Path
) -> None:
    mask_path = picture.parent / "mask.png"
    im = Image.new("L", (96, 64), 0)
    im.paste(255, (0, 0, 10, 10))
    im.save(mask_path)
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "inpaint", "prompt": "a bird", "mask": str(mask_path),
                       "confirm_external_upload": True},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    [sent] = posts(openai_emu)
    assert sent.parts[1].transparent_pixels == 100


async def test_outpaint_to_16_9_sends_the_grown_canvas_and_saves_a_wider_picture(
    client: Client, openai_emu: OpenAIEmulator, picture: Path
) -> None:
    result = await client.call_tool("edit_image", {"image": str(picture), "mode": "outpaint", "aspect_ratio": "16:9",
                                                   "confirm_external_upload": True})  # fmt: skip
    assert not result.is_error, text_of(result)
    [sent] = posts(openai_emu)
    canvas, mask = sent.parts
    assert (canvas.width, canvas.height) == (114, 64) and (mask.width, mask.height) == (114, 64)
    assert mask.transparent_pixels == 18 * 64
    assert result.structured_content["operation"] == "outpaint"
    image = result.structured_content["images"][0]
    assert image["width"] > 96


async def test_references_of_an_edit_reach_openai_in_order_after_the_image(
    client: Client, openai_emu: OpenAIEmulator, picture: Path
) -> None:
    refs = []
    for i, colour in enumerate([(200, 0, 0), (0, 200, 0)]):
        path = picture.parent / f"ref{i}.png"
        path.write_bytes(png(64, 64, colour))
        refs.append(path)
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "edit", "prompt": "give her the hat from the references",
                       "model": "gpt-image-1.5", "references": [str(r) for r in refs], "consistency": "strict",
                       "confirm_external_upload": True},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    [sent] = posts(openai_emu)
    assert [p.sha256 for p in sent.parts] == [sha(PICTURE), *(sha(r.read_bytes()) for r in refs)]
    assert sent.fields["input_fidelity"] == ["high"]


async def test_remove_background_comes_back_with_a_real_alpha_channel(
    client: Client, openai_emu: OpenAIEmulator, picture: Path
) -> None:
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "remove_background", "confirm_external_upload": True}
    )
    assert not result.is_error, text_of(result)
    with Image.open(result.structured_content["images"][0]["path"]) as im:
        assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 0


async def test_openai_cannot_upscale_so_a_pinned_upscale_is_refused_with_nothing_sent(
    client: Client, openai_emu: OpenAIEmulator, picture: Path
) -> None:
    result = await client.call_tool("upscale_image", {"image": str(picture), "confirm_external_upload": True})
    assert result.is_error and "openai cannot do upscale" in text_of(result)
    assert posts(openai_emu) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"mode": "inpaint", "prompt": "a door", "mask": "MASK_50"},
        {"mode": "variation", "confirm_external_upload": False},
        {"mode": "edit", "prompt": "add a hat", "references": ["PICTURE"] * 9},
        {"mode": "edit", "prompt": "add a hat", "references": ["http://example.com/a.png"]},
        {"mode": "edit", "prompt": "add a hat", "references": ["FAKE"]},
        {"mode": "edit", "prompt": "add a hat", "references": ["LINK"]},
    ],
    ids=["mask-size", "no-consent", "nine-references", "http", "text-as-png", "symlink"],
)
async def test_every_input_refusal_sends_nothing_to_openai(
    client: Client, openai_emu: OpenAIEmulator, picture: Path, arguments: dict[str, Any]
) -> None:
    work = picture.parent
    (work / "mask.png").write_bytes(png(50, 50, 255, "L"))
    (work / "fake.png").write_text("hello")
    (work / "link.png").symlink_to(picture)
    names = {"MASK_50": str(work / "mask.png"), "PICTURE": str(picture), "FAKE": str(work / "fake.png"),
             "LINK": str(work / "link.png")}  # fmt: skip

    def real(value: Any) -> Any:
        return [names.get(v, v) for v in value] if isinstance(value, list) else names.get(value, value)

    call = {"image": str(picture), "confirm_external_upload": True, **{k: real(v) for k, v in arguments.items()}}
    result = await client.call_tool("edit_image", call)
    assert result.is_error, text_of(result)
    assert posts(openai_emu) == []
