"""The placeholder provider: every operation offline, labelled, at the size the real operation would give."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from PIL import Image

from imagegen_mcp.imaging import masks
from imagegen_mcp.providers.base import OPERATIONS, Call, ProviderRequest
from imagegen_mcp.providers.placeholder import PlaceholderProvider

pytestmark = pytest.mark.anyio


def png(width: int, height: int, colour: Any = (30, 140, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


PICTURE = data_url(png(300, 200))


async def run(operation: str, **kw: Any) -> list[bytes]:
    request = ProviderRequest(prompt=kw.pop("prompt", "a red door"), model="placeholder", operation=operation, **kw)
    result = await PlaceholderProvider().run(request, Call())
    assert result.provider == "placeholder" and result.cost_usd == 0.0
    assert result.text is not None and "placeholder" in result.text
    return [image.data for image in result.images]


@pytest.mark.parametrize("operation", ["edit", "inpaint", "erase", "style_transfer", "variation"])
async def test_operations_on_an_image_keep_its_size(operation: str) -> None:
    mask = data_url(masks.mask_from_box(300, 200, (0.25, 0.25, 0.75, 0.75)))
    options = {"style_image": PICTURE} if operation == "style_transfer" else {}
    [image] = await run(
        operation, input_images=(PICTURE,), mask=mask if operation in ("inpaint", "erase") else None, options=options
    )
    assert opened(image).size == (300, 200)


async def test_outpaint_grows_the_canvas_by_expand_and_keeps_the_picture_at_its_offset() -> None:
    expand = {"left": 50, "right": 30, "up": 0, "down": 20}
    [image] = await run("outpaint", input_images=(PICTURE,), options={"expand": expand})
    im = opened(image).convert("RGB")
    assert im.size == (380, 220)
    assert im.getpixel((55, 5)) == (30, 140, 90)  # inside the original picture, away from the banner


@pytest.mark.parametrize("scale", [2, 4])
async def test_upscale_multiplies_the_size_by_scale(scale: int) -> None:
    [image] = await run("upscale", input_images=(PICTURE,), options={"scale": scale, "mode": "fast"})
    assert opened(image).size == (300 * scale, 200 * scale)


async def test_remove_background_returns_a_png_with_real_transparent_pixels() -> None:
    [image] = await run("remove_background", input_images=(PICTURE,), prompt="")
    im = opened(image)
    assert im.format == "PNG" and im.mode == "RGBA" and im.size == (300, 200)
    alpha = im.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((150, 100)) == 255


async def test_inpaint_outlines_the_mask_area() -> None:
    mask = data_url(masks.mask_from_box(300, 200, (0.5, 0.5, 1.0, 1.0)))
    [image] = await run("inpaint", input_images=(PICTURE,), mask=mask)
    im = opened(image).convert("RGB")
    assert im.getpixel((150, 150)) == (255, 40, 40)  # the frame's left edge, at the box's x0
    assert im.getpixel((10, 10)) != (255, 40, 40)


async def test_n_images_are_made_and_the_same_request_gives_the_same_bytes() -> None:
    first = await run("variation", input_images=(PICTURE,), n=3)
    again = await run("variation", input_images=(PICTURE,), n=3)
    assert len(first) == 3 and len({hashlib.sha256(b).hexdigest() for b in first}) == 3
    assert first == again


async def test_generate_still_draws_the_requested_shape() -> None:
    [image] = await run("generate", aspect_ratio="16:9", image_size="low")
    assert opened(image).size == (512, 288)


async def test_every_operation_is_declared_with_every_argument() -> None:
    caps = PlaceholderProvider.capabilities
    assert set(caps.operations) == set(OPERATIONS)
    assert not caps.unhonoured("inpaint", frozenset({"mask", "seed", "negative_prompt", "n"}))
