"""The placeholder provider's drawings for the operations on an input image.

Every drawing has the size the real operation's result would have (:func:`resample.output_size`),
carries a dark "PLACEHOLDER · <operation>" banner with the prompt, and is deterministic: the same
input, mask, prompt, options and index give the same bytes. ``remove_background`` gives an RGBA PNG
whose alpha is real (an oval cut-out on a transparent ground), so transparency checks above the
provider can be exercised offline.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from imagegen_mcp.imaging import masks, resample

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage


def render(
    operation: str, source: bytes, mask: bytes | None, prompt: str, options: Mapping[str, Any], index: int
) -> bytes:
    """One labelled stand-in for ``operation`` applied to ``source`` (PNG bytes)."""
    from PIL import Image

    picture = resample.open_rgb(source).convert("RGB")
    width, height = resample.output_size(operation, picture.width, picture.height, options)
    tint = _tint(operation, prompt, index)
    if operation == "outpaint":
        expand = masks.checked_expand(options.get("expand") or {})
        im = Image.new("RGB", (width, height), tint)
        _hatch(im)
        im.paste(picture, (expand["left"], expand["up"]))
    else:
        resized = picture.resize((width, height), Image.Resampling.NEAREST)
        im = Image.blend(resized, Image.new("RGB", (width, height), tint), 0.35)
    if operation in ("inpaint", "erase") and mask is not None:
        _outline_mask(im, mask)
    detail = {
        "upscale": f"x{options.get('scale') or 2} ({options.get('mode') or 'fast'}) — resized, not upscaled",
        "outpaint": "new border drawn here, not generated",
        "remove_background": "oval cut-out, not a real segmentation",
    }.get(operation, "")
    _banner(im, f"PLACEHOLDER · {operation}", [detail, prompt] if detail else [prompt])
    if operation == "remove_background":
        return _png(_cut_out(im))
    return _png(im)


def _tint(operation: str, prompt: str, index: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{operation}\x00{prompt}\x00{index}".encode()).digest()
    return 64 + digest[0] // 2, 64 + digest[1] // 2, 64 + digest[2] // 2


def _hatch(im: PILImage) -> None:
    from PIL import ImageDraw

    d = ImageDraw.Draw(im)
    step = max(8, min(im.size) // 16)
    for x in range(-im.height, im.width, step):
        d.line((x, 0, x + im.height, im.height), fill=(200, 200, 200), width=1)


def _outline_mask(im: PILImage, mask: bytes) -> None:
    """A bright frame around the mask's area (its bounding box), so the change's place is visible."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(mask)) as opened:
        grey = opened.convert("L").resize(im.size, Image.Resampling.NEAREST)
    box = grey.point(lambda v: 255 if v >= 128 else 0).getbbox()
    if box is None:
        return
    edge = max(2, min(im.size) // 128)
    ImageDraw.Draw(im).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=(255, 40, 40), width=edge)


def _banner(im: PILImage, title: str, lines: list[str]) -> None:
    from PIL import ImageDraw, ImageFont

    d = ImageDraw.Draw(im)
    width, height = im.size
    title_size = max(10, min(width, height) // 14)
    body_size = max(8, min(width, height) // 32)
    title_font = ImageFont.load_default(size=title_size)
    body_font = ImageFont.load_default(size=body_size)
    chars = max(12, int(width / (body_size * 0.55)) - 4)
    wrapped = [w for line in lines for w in textwrap.wrap(line, width=chars)[:3]][:5]
    y = height // 2 - title_size
    box = d.textbbox((0, 0), title, font=title_font)
    x = max(2, (width - (box[2] - box[0])) // 2)
    d.rectangle((x - 6, y - 4, x + box[2] - box[0] + 6, y + box[3] - box[1] + 10), fill=(20, 20, 20))
    d.text((x, y), title, font=title_font, fill=(255, 255, 255))
    y += title_size + body_size
    for line in wrapped:
        lb = d.textbbox((0, 0), line, font=body_font)
        lx = max(2, (width - (lb[2] - lb[0])) // 2)
        d.rectangle((lx - 4, y - 2, lx + lb[2] - lb[0] + 4, y + body_size + 4), fill=(20, 20, 20))
        d.text((lx, y), line, font=body_font, fill=(240, 240, 240))
        y += int(body_size * 1.35)


def _cut_out(im: PILImage) -> PILImage:
    from PIL import Image, ImageDraw

    alpha = Image.new("L", im.size, 0)
    width, height = im.size
    ImageDraw.Draw(alpha).ellipse((width // 10, height // 10, width * 9 // 10, height * 9 // 10), fill=255)
    rgba = im.convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


def _png(im: PILImage) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
