"""Non-AI pixel operations: Lanczos upscaling and edge-stretched outpaint canvases.

What the ``local`` provider does (and the ``placeholder`` provider sizes its drawings by): nothing
here invents content. An upscale is a resampling (sharper than nearest-neighbour, but no detail is
added: not AI super-resolution); an outpaint canvas is the picture on a grown canvas whose new
border is the picture's own edges stretched outwards and blurred, so a later inpaint (or a person)
has a neutral, matching ground to work on. Both are labelled as such by their callers.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from imagegen_mcp.errors import RequestError
from imagegen_mcp.imaging import codec, masks

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def output_size(operation: str, width: int, height: int, options: Mapping[str, Any]) -> tuple[int, int]:
    """The size an operation's result has: outpaint grows by ``expand``, upscale multiplies, others keep it.

    Refuses (before any work) a result over the decoder's pixel cap, naming the argument to change.
    """
    if operation == "upscale":
        scale = int(options.get("scale") or 2)
        size = (width * scale, height * scale)
        argument = "scale"
    elif operation == "outpaint":
        expand = masks.checked_expand(options.get("expand") or {})
        size = (width + expand["left"] + expand["right"], height + expand["up"] + expand["down"])
        argument = "expand"
    else:
        return width, height
    if size[0] * size[1] > codec.MAX_PIXELS or max(size) > masks.MAX_CANVAS_EDGE * 2:
        raise RequestError(
            f"the {operation} result would be {size[0]}x{size[1]} pixels, over this server's limit",
            f"use a smaller {argument}, or a smaller image",
            code="result_too_large",
        )
    return size


def open_rgb(data: bytes) -> PILImage:
    """The image decoded, in RGB or RGBA (kept when it has transparency)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        has_alpha = opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info
        return opened.convert("RGBA" if has_alpha else "RGB")


def upscale(data: bytes, scale: int, output_format: str | None = None) -> bytes:
    """``data`` resampled ``scale`` times larger with Lanczos (no detail is invented)."""
    from PIL import Image

    im = open_rgb(data)
    width, height = output_size("upscale", im.width, im.height, {"scale": scale})
    return encode(im.resize((width, height), Image.Resampling.LANCZOS), output_format)


def stretched_canvas(data: bytes, expand: masks.Expand, output_format: str | None = None) -> bytes:
    """The picture on a canvas grown by ``expand``, the new border its edges stretched outwards and blurred."""
    from PIL import Image, ImageFilter

    canvas = masks.outpaint_canvas(data, expand)  # checks the canvas size too
    picture = open_rgb(data)
    mode = picture.mode
    ground = picture.resize((canvas.width, canvas.height), Image.Resampling.BILINEAR)
    # Stretch each edge row/column across its new border, then blur so no seam or detail stands out.
    left, up = expand["left"], expand["up"]
    right_x, down_y = left + picture.width, up + picture.height
    strips = (
        (picture.crop((0, 0, 1, picture.height)), (0, up, left, down_y)),
        (picture.crop((picture.width - 1, 0, picture.width, picture.height)), (right_x, up, canvas.width, down_y)),
        (picture.crop((0, 0, picture.width, 1)), (left, 0, right_x, up)),
        (picture.crop((0, picture.height - 1, picture.width, picture.height)), (left, down_y, right_x, canvas.height)),
    )
    for strip, (x0, y0, x1, y1) in strips:
        if x1 > x0 and y1 > y0:
            ground.paste(strip.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR), (x0, y0))
    radius = max(4, min(canvas.width, canvas.height) // 24)
    ground = ground.filter(ImageFilter.GaussianBlur(radius)).convert(mode)
    ground.paste(picture, (left, up))
    return encode(ground, output_format)


def encode(im: PILImage, output_format: str | None) -> bytes:
    """PNG by default; jpeg drops any alpha (the caller refused ``background: transparent`` with jpeg)."""
    fmt = output_format or "png"
    if fmt == "jpeg" and im.mode != "RGB":
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, PIL_FORMATS[fmt], **({"quality": 92} if fmt != "png" else {}))
    return buf.getvalue()
