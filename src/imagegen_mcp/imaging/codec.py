"""Image bytes: sniff the format from magic bytes, decode provider base64, measure.

Formats are judged by content, never by a MIME label or a file name. Pillow is imported only to
read a header (:func:`inspect`), never at start-up.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imagegen_mcp.errors import ImageError

if TYPE_CHECKING:
    pass

# The largest image decoded here: Pillow's own decompression-bomb threshold (~89.5 megapixels, e.g.
# 9459x9459), far above what providers return (4096x4096 is 16.8 MP). A file declaring more (a
# 50000x50000 PNG can be a few hundred bytes) is refused from its header, before any decoding.
MAX_PIXELS = 89_478_485

MIME_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}
EQUIVALENT_SUFFIXES = {".jpeg": ".jpg", ".jpe": ".jpg"}


def sniff(data: bytes) -> str:
    """The MIME type from magic bytes; :class:`ImageError` if it is not png/jpeg/webp/gif."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    head = data[:16].hex(" ") if data else "nothing"
    raise ImageError(
        f"the provider returned bytes that are not a PNG, JPEG, WebP or GIF image (starts with {head})",
        "try again, or pick another model; nothing was saved",
    )


_PROVIDER_FIX = "try again, or pick another model; nothing was saved"
_WHITESPACE = re.compile(r"\s")  # only used to strip wrapped base64; `in` finds it faster than a regex
_DECODE_SLICE = 1024 * 1024  # a multiple of 4


def decode_base64_image(payload: str) -> bytes:
    """Bytes from a data URL or bare base64 (whitespace, URL-safe alphabet, missing padding tolerated)."""
    return _decode_owned([payload])


def take_base64_image(holder: dict[str, Any], key: str) -> bytes:
    """Pop ``holder[key]`` (a data URL or base64) and decode it, releasing the text as early as possible.

    The provider's base64 is the largest thing this server holds (~10 MB for a 4096² PNG). Popping it
    from the parsed response leaves this function the only owner, so the text is freed before the
    final copy of the decoded bytes is made: at most text + bytes exist at once, never text + 2 x bytes.
    """
    return _decode_owned([holder.pop(key)])


def _decode_owned(box: list[str]) -> bytes:
    payload = box.pop()
    start = payload.index(",") + 1 if payload.startswith("data:") else 0
    if any(ws in payload for ws in "\n\r \t"):  # rare: wrapped base64; one full copy is fine then
        payload, start = _WHITESPACE.sub("", payload[start:]), 0
    urlsafe = "-" in payload or "_" in payload
    end = len(payload)
    out = bytearray((end - start) * 3 // 4 + 3)
    filled = 0
    try:
        for offset in range(start, end, _DECODE_SLICE):  # slices: one extra 1 MiB copy at a time
            piece = payload[offset : min(offset + _DECODE_SLICE, end)]
            if urlsafe:
                piece = piece.replace("-", "+").replace("_", "/")
            if offset + _DECODE_SLICE >= end:
                piece += "=" * (-len(piece) % 4)
            chunk = binascii.a2b_base64(piece, strict_mode=True)
            out[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(
            "the provider returned image data that is not valid base64",
            "try again, or pick another model; nothing was saved",
        ) from exc
    del payload, piece, chunk  # the text goes first (when the caller handed it over: take_base64_image)
    del out[filled:]
    return bytes(out)


@dataclass(frozen=True)
class ImageFacts:
    mime_type: str
    width: int
    height: int
    sha256: str
    size: int


def inspect(data: bytes, *, what: str = "the provider's image", fix: str = _PROVIDER_FIX) -> ImageFacts:
    """Sniffed type, pixel size (header only, no full decode) and digest.

    :class:`ImageError` (code ``image_too_large``) when the header declares more than
    :data:`MAX_PIXELS`; ``what`` and ``fix`` word the errors for where the bytes came from.
    """
    from PIL import Image, UnidentifiedImageError

    mime = sniff(data)
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(what) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{what} ({mime}) could not be read ({exc.__class__.__name__})", fix) from exc
    if width * height > MAX_PIXELS:
        raise _too_large(what, width, height)
    return ImageFacts(mime, width, height, hashlib.sha256(data).hexdigest(), len(data))


def has_transparency(data: bytes) -> bool:
    """Whether the image has a real alpha channel with at least one not-fully-opaque pixel.

    A checkerboard painted into opaque pixels is not transparency: only the alpha channel counts.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        im = opened.convert("RGBA") if opened.mode == "P" and "transparency" in opened.info else opened
        if im.mode not in ("RGBA", "LA", "PA", "RGBa", "La"):
            return False
        extrema = im.getchannel("A").getextrema()  # (min, max) of the one channel
        return bool(extrema[0] < 255)  # type: ignore[operator]


def _too_large(what: str, width: int = 0, height: int = 0) -> ImageError:
    size = f"{width}x{height} pixels" if width else "more pixels than Pillow will decode"
    return ImageError(
        f"{what} is too large: it declares {size}, over the {MAX_PIXELS / 1e6:.1f}-megapixel limit",
        "pass a smaller image (at most about 9000x9000 pixels: downscale it first)",
        code="image_too_large",
    )


# --------------------------------------------------------------------------- paths
