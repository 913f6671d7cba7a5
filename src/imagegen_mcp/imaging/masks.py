"""Masks and outpaint canvases: the pixels edits need, prepared once here for every provider.

One polarity inside this server: a **mask** is a single-channel (``L``) PNG exactly the size of the
image it belongs to, **white (255) = change, black (0) = keep**. Users may hand in any of:

- ``mask_box: [x0, y0, x1, y1]`` in 0–1 fractions of the image → :func:`mask_from_box`;
- a black/white image (any mode; thresholded at 50 %) → :func:`normalize_mask`;
- a PNG whose transparent pixels mark the change (OpenAI's convention) → :func:`normalize_mask` too:
  an image with an alpha channel that has any transparent pixel is read by its alpha.

A mask the size of the image is used as is. One with the image's aspect ratio but another size (a
mask drawn on a preview) is resized with nearest-neighbour sampling — the one documented resize; any
other size is refused, naming the argument. A mask that marks nothing (all black) is refused too:
it would pay for an unchanged picture.

Providers convert from this form at their boundary: :func:`to_alpha_mask` gives OpenAI's RGBA form
(transparent = change); Stability, BFL, fal, AUTOMATIC1111 and ComfyUI take white = change as is.

Outpainting on providers that only inpaint: :func:`outpaint_canvas` returns the grown canvas (the
picture pasted at its offset, the new border transparent) and the mask of the new border;
:func:`expand_for_aspect` turns a target ``aspect_ratio`` into the pixels to add per side.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from imagegen_mcp.errors import RequestError
from imagegen_mcp.imaging import codec

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

SIDES = ("left", "right", "up", "down")
MAX_CANVAS_EDGE = 8192  # the largest outpaint canvas prepared here (providers accept far less)


class Expand(TypedDict):
    left: int
    right: int
    up: int
    down: int


@dataclass(frozen=True)
class Canvas:
    """An outpaint canvas: the grown RGBA image (new border transparent) and its white-border mask."""

    image: bytes
    mask: bytes
    width: int
    height: int
    expand: Expand


def mask_from_box(width: int, height: int, box: tuple[float, float, float, float] | list[float]) -> bytes:
    """A mask the size of the image, white inside ``box`` (fractions ``x0, y0, x1, y1`` of the image)."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = _checked_box(box)
    im = Image.new("L", (width, height), 0)
    # Round outwards so a thin box still marks at least one pixel.
    left, top = int(x0 * width), int(y0 * height)
    right, bottom = max(left + 1, -int(-x1 * width)), max(top + 1, -int(-y1 * height))
    ImageDraw.Draw(im).rectangle((left, top, right - 1, bottom - 1), fill=255)
    return _png(im)


def normalize_mask(data: bytes, width: int, height: int, *, argument: str = "mask") -> bytes:
    """Any accepted mask image → this server's form (``L`` PNG, white = change, the image's size)."""
    from PIL import Image

    facts = codec.inspect(data, what=f"the {argument} image", fix=f"pass a PNG, JPEG or WebP as {argument}")
    with Image.open(io.BytesIO(data)) as opened:
        im = opened.convert("RGBA") if _has_alpha(opened) else opened.convert("L")
    if im.mode == "RGBA":
        alpha = im.getchannel("A")
        lo = min(alpha.tobytes()) if alpha.width and alpha.height else 255
        # Transparent = change when any pixel is transparent; a fully opaque RGBA is read by its brightness.
        im = alpha.point(lambda a: 255 if a < 128 else 0) if lo < 128 else im.convert("L")
    if im.mode == "L":
        im = im.point(lambda v: 255 if v >= 128 else 0)
    if (facts.width, facts.height) != (width, height):
        if abs(facts.width * height - facts.height * width) > max(width, height):
            raise RequestError(
                f"{argument} is {facts.width}x{facts.height} but the image is {width}x{height}, "
                "and their shapes differ",
                f"pass a {argument} the size of the image (white = change, black = keep), or use mask_box",
                code="mask_size_mismatch",
            )
        im = im.resize((width, height), Image.Resampling.NEAREST)
    if im.getbbox() is None:
        raise RequestError(
            f"{argument} marks nothing to change (it is all black, or fully opaque)",
            "paint the area to change white (or transparent) and keep the rest black, or use mask_box",
            code="mask_empty",
        )
    return _png(im)


def to_alpha_mask(mask: bytes) -> bytes:
    """This server's mask → an RGBA PNG whose transparent pixels mark the change (OpenAI's form)."""
    from PIL import Image

    with Image.open(io.BytesIO(mask)) as opened:
        grey = opened.convert("L")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 255))
    rgba.putalpha(grey.point(lambda v: 0 if v >= 128 else 255))
    return _png(rgba)


def expand_for_aspect(width: int, height: int, aspect_ratio: str) -> Expand:
    """The pixels to add per side so the picture grows (never shrinks) to ``aspect_ratio``, centred."""
    w_ratio, h_ratio = (float(x) for x in aspect_ratio.split(":"))
    target = w_ratio / h_ratio
    if width / height < target:  # too narrow: widen
        extra = round(height * target) - width
        return Expand(left=extra // 2, right=extra - extra // 2, up=0, down=0)
    extra = round(width / target) - height
    return Expand(left=0, right=0, up=extra // 2, down=extra - extra // 2)


def checked_expand(expand: Mapping[str, int], *, argument: str = "expand") -> Expand:
    """``{left, right, up, down}`` (any subset) as a full :class:`Expand`; refuses unknown sides and negatives."""
    unknown = sorted(set(expand) - set(SIDES))
    if unknown:
        raise RequestError(
            f"{argument} has unknown side(s) {', '.join(unknown)}",
            f"use {argument}: {{left, right, up, down}} in pixels (any subset)",
            code="invalid_expand",
        )
    values = {side: int(expand.get(side, 0)) for side in SIDES}
    if any(v < 0 for v in values.values()) or not any(values.values()):
        raise RequestError(
            f"{argument} must add at least one pixel and none may be negative (got {values})",
            f'for example {argument}: {{"left": 256, "right": 256}}, or aspect_ratio to grow to a shape',
            code="invalid_expand",
        )
    return Expand(left=values["left"], right=values["right"], up=values["up"], down=values["down"])


def outpaint_canvas(image: bytes, expand: Expand) -> Canvas:
    """The grown canvas (the picture at its offset, new border transparent) and the border's mask."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(image)) as opened:
        picture = opened.convert("RGBA")
    width = picture.width + expand["left"] + expand["right"]
    height = picture.height + expand["up"] + expand["down"]
    if max(width, height) > MAX_CANVAS_EDGE:
        raise RequestError(
            f"the outpainted canvas would be {width}x{height}, over the {MAX_CANVAS_EDGE} px edge limit",
            "expand by fewer pixels, or upscale after outpainting",
            code="canvas_too_large",
        )
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.paste(picture, (expand["left"], expand["up"]))
    mask = Image.new("L", (width, height), 255)
    box = (expand["left"], expand["up"], expand["left"] + picture.width - 1, expand["up"] + picture.height - 1)
    ImageDraw.Draw(mask).rectangle(box, fill=0)
    return Canvas(_png(canvas), _png(mask), width, height, expand)


def mask_preview(image: bytes, mask: bytes) -> bytes:
    """The image with the area to change tinted red: what a mask will do, shown before paying for it."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as opened:
        picture = opened.convert("RGB")
    with Image.open(io.BytesIO(mask)) as opened:
        grey = opened.convert("L").resize(picture.size, Image.Resampling.NEAREST)
    red = Image.new("RGB", picture.size, (230, 30, 30))
    tinted = Image.blend(picture, red, 0.55)
    picture.paste(tinted, (0, 0), grey)
    return _png(picture)


def _checked_box(box: tuple[float, float, float, float] | list[float]) -> tuple[float, float, float, float]:
    values = tuple(float(v) for v in box)
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
        raise RequestError(
            f"mask_box must be four fractions 0–1 [x0, y0, x1, y1] (got {list(box)})",
            "for example mask_box: [0.25, 0.25, 0.75, 0.75] marks the middle of the image",
            code="invalid_mask_box",
        )
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise RequestError(
            f"mask_box must have x1 > x0 and y1 > y0 (got {list(box)})",
            "give the top-left corner first, then the bottom-right: [x0, y0, x1, y1]",
            code="invalid_mask_box",
        )
    return x0, y0, x1, y1


def _has_alpha(im: PILImage) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)


def _png(im: PILImage) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
