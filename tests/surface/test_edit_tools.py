"""edit_image and upscale_image through a real MCP client: every mode offline (placeholder, local),
output sizes, dry runs, and every input refusal with nothing sent."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server

pytestmark = pytest.mark.anyio


def png(width: int, height: int, colour: Any = (10, 120, 200), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def make_settings(tmp_path: Path, provider: str = "placeholder", **changes: Any) -> Settings:
    return Settings(
        output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider=provider,
        workspace=(tmp_path / "work",), progress_interval_s=0.2, request_timeout_s=10, **changes,
    )  # fmt: skip


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def picture(work: Path) -> Path:
    path = work / "picture.png"
    path.write_bytes(png(96, 64))
    return path


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(build_server(make_settings(tmp_path))) as c:
        yield c


def size_of(path: str | Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def sizes(result: Any) -> list[tuple[int, int]]:
    return [size_of(i["path"]) for i in result.structured_content["images"]]


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


MODES = [
    ("edit", {"prompt": "make the sky stormy"}, (96, 64)),
    ("inpaint", {"prompt": "a round window", "mask_box": [0.25, 0.25, 0.75, 0.75]}, (96, 64)),
    ("outpaint", {"expand": {"left": 32, "down": 16}}, (128, 80)),
    ("outpaint", {"aspect_ratio": "16:9"}, (114, 64)),
    ("erase", {"mask_box": [0.5, 0.5, 1.0, 1.0]}, (96, 64)),
    ("variation", {}, (96, 64)),
    ("remove_background", {}, (96, 64)),
]


@pytest.mark.parametrize(("mode", "arguments", "size"), MODES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MODES)])
async def test_every_edit_mode_saves_an_image_of_the_size_the_mode_implies_with_links_cost_and_attempts(
    client: Client, picture: Path, mode: str, arguments: dict[str, Any], size: tuple[int, int]
) -> None:
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": mode, "confirm_external_upload": True, **arguments}
    )
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["operation"] == mode and data["provider"] == "placeholder" and data["cost_usd"] == 0.0
    assert sizes(result) == [size]
    assert [a["ok"] for a in data["attempts"]] == [True]
    kinds = [b.type for b in result.content]
    assert kinds == ["text", "resource_link", "image"] and text_of(result).startswith(f"{mode}: Saved 1 image")


async def test_style_transfer_takes_the_style_image_and_keeps_the_size(
    client: Client, picture: Path, work: Path
) -> None:
    style = work / "style.png"
    style.write_bytes(png(40, 40, (250, 200, 0)))
    arguments = {"image": str(picture), "mode": "style_transfer", "style_image": str(style)}
    result = await client.call_tool("edit_image", {**arguments, "confirm_external_upload": True})
    assert not result.is_error, text_of(result)
    assert result.structured_content["operation"] == "style_transfer" and sizes(result) == [(96, 64)]


async def test_three_variations_come_back_as_three_files_and_one_contact_sheet(client: Client, picture: Path) -> None:
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "variation", "n": 3, "confirm_external_upload": True}
    )
    assert sizes(result) == [(96, 64)] * 3
    assert [b.type for b in result.content].count("image") == 1


async def test_remove_background_saves_a_png_with_a_real_alpha_channel(client: Client, picture: Path) -> None:
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "remove_background", "confirm_external_upload": True}
    )
    with Image.open(result.structured_content["images"][0]["path"]) as im:
        assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 0


@pytest.mark.parametrize(("scale", "size"), [(2, (192, 128)), (4, (384, 256))])
async def test_upscale_multiplies_the_size(client: Client, picture: Path, scale: int, size: tuple[int, int]) -> None:
    result = await client.call_tool(
        "upscale_image", {"image": str(picture), "scale": scale, "confirm_external_upload": True}
    )
    assert not result.is_error, text_of(result)
    assert result.structured_content["operation"] == "upscale" and sizes(result) == [size]


async def test_an_image_generated_here_is_edited_by_its_uri_without_upload_consent(client: Client) -> None:
    made = await client.call_tool("generate_image", {"prompt": "a lighthouse on a cliff at dusk"})
    uri = made.structured_content["images"][0]["uri"]
    result = await client.call_tool("upscale_image", {"image": uri, "scale": 2})
    assert not result.is_error, text_of(result)
    assert sizes(result) == [(2048, 2048)]


async def test_the_local_provider_upscales_with_lanczos_and_says_it_is_not_ai(tmp_path: Path, picture: Path) -> None:
    async with Client(build_server(make_settings(tmp_path, provider="local"))) as client:
        result = await client.call_tool(
            "upscale_image", {"image": str(picture), "scale": 4, "confirm_external_upload": True}
        )
        outpaint = await client.call_tool(
            "edit_image", {"image": str(picture), "mode": "outpaint", "aspect_ratio": "16:9",
                           "confirm_external_upload": True},
        )  # fmt: skip
    assert sizes(result) == [(384, 256)] and result.structured_content["provider"] == "local"
    assert "not AI" in (result.structured_content["text"] or "")
    assert sizes(outpaint) == [(114, 64)] and outpaint.structured_content["operation"] == "outpaint"


async def test_creative_upscale_without_a_prompt_is_refused_naming_the_prompt(client: Client, picture: Path) -> None:
    result = await client.call_tool(
        "upscale_image", {"image": str(picture), "mode": "creative", "confirm_external_upload": True}
    )
    assert result.is_error and "creative needs a prompt" in text_of(result)


async def test_a_dry_run_of_an_inpaint_shows_the_chain_the_sizes_and_a_mask_preview_and_saves_nothing(
    tmp_path: Path, client: Client, picture: Path
) -> None:
    result = await client.call_tool(
        "edit_image", {"image": str(picture), "mode": "inpaint", "prompt": "a round window", "dry_run": True,
                       "mask_box": [0.0, 0.0, 0.5, 0.5], "confirm_external_upload": True},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["dry_run"] and data["images"] == [] and data["operation"] == "inpaint"
    assert data["request"]["chain"] == ["placeholder:placeholder"]
    assert data["request"]["prepared"] == {"input_size": [96, 64], "output_size": [96, 64]}
    assert text_of(result).startswith("inpaint 96x64 → 96x64: Dry run")
    [preview] = [b for b in result.content if b.type == "image"]
    shown = Image.open(io.BytesIO(base64.b64decode(preview.data))).convert("RGB")
    assert shown.getpixel((5, 5))[0] > shown.getpixel((90, 60))[0]  # the marked corner is tinted red
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("tool", "arguments", "size"),
    [
        ("edit_image", {"mode": "outpaint", "aspect_ratio": "16:9"}, [114, 64]),
        ("edit_image", {"mode": "outpaint", "expand": {"right": 100}}, [196, 64]),
        ("upscale_image", {"scale": 4}, [384, 256]),
    ],
)
async def test_a_dry_run_shows_the_prepared_output_size(
    client: Client, picture: Path, tool: str, arguments: dict[str, Any], size: list[int]
) -> None:
    result = await client.call_tool(
        tool, {"image": str(picture), "dry_run": True, "confirm_external_upload": True, **arguments}
    )
    assert not result.is_error, text_of(result)
    assert result.structured_content["request"]["prepared"]["output_size"] == size


# ---------------------------------------------------------------------------------------------- refusals


async def test_a_mask_of_another_shape_is_refused_naming_mask(client: Client, picture: Path, work: Path) -> None:
    mask = work / "mask.png"
    mask.write_bytes(png(50, 50, 255, "L"))
    result = await client.call_tool("edit_image", {"image": str(picture), "mode": "inpaint", "prompt": "a door",
                                                   "mask": str(mask), "confirm_external_upload": True})  # fmt: skip
    assert result.is_error and "mask is 50x50 but the image is 96x64" in text_of(result)


async def test_a_mask_drawn_on_a_half_size_preview_is_resized_to_the_image(
    client: Client, picture: Path, work: Path
) -> None:
    mask = work / "mask.png"
    im = Image.new("L", (48, 32), 0)
    im.paste(255, (0, 0, 24, 16))
    im.save(mask)
    result = await client.call_tool("edit_image", {"image": str(picture), "mode": "inpaint", "prompt": "a door",
                                                   "mask": str(mask), "confirm_external_upload": True})  # fmt: skip
    assert not result.is_error, text_of(result)
    assert sizes(result) == [(96, 64)]


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"mode": "inpaint", "prompt": "a door"}, "inpaint needs exactly one of mask or mask_box"),
        ({"mode": "inpaint", "mask_box": [0, 0, 1, 1]}, "inpaint needs a prompt"),
        ({"mode": "edit"}, "edit needs a prompt"),
        ({"mode": "outpaint"}, "outpaint needs exactly one of expand or aspect_ratio"),
        ({"mode": "style_transfer"}, "style_transfer needs style_image"),
        ({"mode": "variation", "mask_box": [0, 0, 1, 1]}, "mask_box is not used by variation"),
        ({"mode": "edit", "prompt": "x y z", "expand": {"left": 5}}, "expand is not used by edit"),
        ({"mode": "outpaint", "expand": {}}, "expand must add at least one pixel"),
        ({"mode": "inpaint", "prompt": "a door", "mask_box": [0.5, 0, 0.2, 1]}, "mask_box must have x1 > x0"),
    ],
)
async def test_arguments_a_mode_lacks_or_does_not_use_are_refused_by_name(
    client: Client, picture: Path, arguments: dict[str, Any], needle: str
) -> None:
    result = await client.call_tool("edit_image", {"image": str(picture), "confirm_external_upload": True, **arguments})
    assert result.is_error and needle in text_of(result), text_of(result)


async def test_a_symlinked_image_is_refused(client: Client, picture: Path, work: Path) -> None:
    link = work / "link.png"
    os.symlink(picture, link)
    result = await client.call_tool("upscale_image", {"image": str(link), "confirm_external_upload": True})
    assert result.is_error and "image" in text_of(result) and "symbolic link" in text_of(result)


async def test_a_foreign_file_without_consent_is_refused_for_every_image_argument(
    client: Client, picture: Path, work: Path, tmp_path: Path
) -> None:
    made = await client.call_tool("generate_image", {"prompt": "a lighthouse on a cliff at dusk"})
    uri = made.structured_content["images"][0]["uri"]
    for arguments, name in [
        ({"image": str(picture), "mode": "variation"}, "(image)"),
        ({"image": uri, "mode": "style_transfer", "style_image": str(picture)}, "(style_image)"),
        ({"image": uri, "mode": "edit", "prompt": "add a moon", "references": [str(picture)]}, "(references[0])"),
        ({"image": uri, "mode": "inpaint", "prompt": "a moon", "mask": str(picture)}, "(mask)"),
    ]:
        result = await client.call_tool("edit_image", arguments)
        assert result.is_error and "needs your confirmation" in text_of(result) and name in text_of(result)


async def test_plain_http_is_refused(client: Client) -> None:
    result = await client.call_tool("upscale_image", {"image": "http://example.com/a.png"})
    assert result.is_error and "image uses http:" in text_of(result)


async def test_more_than_eight_references_are_refused(client: Client, picture: Path) -> None:
    result = await client.call_tool("edit_image", {"image": str(picture), "prompt": "add a hat", "mode": "edit",
                                                   "references": [str(picture)] * 9,
                                                   "confirm_external_upload": True})  # fmt: skip
    assert result.is_error and "references" in text_of(result) and "8" in text_of(result)


async def test_a_text_file_named_png_is_refused(client: Client, work: Path) -> None:
    fake = work / "fake.png"
    fake.write_text("not an image at all")
    result = await client.call_tool("upscale_image", {"image": str(fake), "confirm_external_upload": True})
    assert result.is_error and "is not a PNG, JPEG or WebP image" in text_of(result)


async def test_tools_list_gives_the_shared_result_schema_once_and_edits_say_where_it_is(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools["generate_image"].output_schema is not None
    assert "images" in tools["generate_image"].output_schema["properties"]
    for name in ("edit_image", "upscale_image"):
        assert tools[name].output_schema == {"type": "object"}
        assert "result as generate_image" in (tools[name].description or "")


async def test_an_unknown_expand_side_is_refused_naming_it(client: Client, picture: Path) -> None:
    result = await client.call_tool("edit_image", {"image": str(picture), "mode": "outpaint",
                                                   "expand": {"top": 10}, "confirm_external_upload": True})  # fmt: skip
    assert result.is_error and "expand has unknown side(s) top" in text_of(result)


async def test_an_inpaint_prompt_for_the_whole_picture_gets_a_hint_and_must_keep_reaches_the_prompt(
    client: Client, picture: Path
) -> None:
    result = await client.call_tool("edit_image", {
        "image": str(picture), "mode": "inpaint", "mask_box": [0, 0, 0.5, 0.5], "dry_run": True,
        "prompt": "a photo of a cosy living room with a round window", "must_keep": ["the cat"],
        "confirm_external_upload": True,
    })  # fmt: skip
    data = result.structured_content
    assert "inpaint-whole-picture" in [h["rule"] for h in data["hints"]]
    assert data["rails_applied"] == ["must_keep:the cat"] and "the cat" in data["request"]["prompt_sent"]
