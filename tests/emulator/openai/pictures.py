"""Output images at the real requested size, and a probe for uploaded ones.

Outputs reuse the OpenRouter emulator's drawing (colours from a hash of the prompt and image index), so
the same request always yields the same bytes (tests compare sha256). A transparent background gets an
alpha channel: a fully transparent border around an opaque centre.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

from ..openrouter.images import MEDIA_TYPES, draw, encode

FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}


@lru_cache(maxsize=64)
def render(
    prompt: str,
    width: int,
    height: int,
    fmt: str = "png",
    index: int = 0,
    transparent: bool = False,
    quality: int = 100,
) -> bytes:
    img = draw(prompt, width, height, index)
    if transparent:
        alpha = Image.new("L", (width, height), 0)
        ImageDraw.Draw(alpha).rectangle((width // 8, height // 8, width * 7 // 8, height * 7 // 8), fill=255)
        img.putalpha(alpha)
    if fmt == "png":
        return encode(img, "png")
    # output_compression (0–100, default 100) sets the encoder quality for jpeg and webp.
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=max(1, min(quality, 95)))
    else:
        img.save(buf, "WEBP", quality=quality)
    return buf.getvalue()


def media_type(fmt: str) -> str:
    return MEDIA_TYPES[fmt]


@dataclass(frozen=True)
class Probe:
    """What Pillow sees in an uploaded file. `format` is None when it is not an image it can read."""

    format: str | None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    has_alpha: bool = False
    transparent_pixels: int | None = None  # alpha 0 pixels (a mask's polarity: OpenAI edits those); None: no alpha


def probe(data: bytes) -> Probe:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = FORMATS.get(img.format or "", (img.format or "").lower() or None)
            alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            clear = img.convert("RGBA").getchannel("A").histogram()[0] if alpha else None
            return Probe(fmt, img.width, img.height, img.mode, alpha, clear)
    except Exception:  # Pillow raises many types for junk; all mean "not an image"
        return Probe(None)
