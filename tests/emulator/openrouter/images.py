"""Tiny, deterministic test images, plus the size rules both surfaces use.

Tests care about bytes round-tripping (hash in, hash out), not pixels, so the default image is small
(real pixel sizes divided by `scale_divisor`, 16 by default) and its colours come from a hash of the
prompt. Expensive images (the ≥ 1.5 MB noisy one, 4096×4096 renders) are generated once and cached.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import random
from functools import lru_cache

from PIL import Image, ImageDraw

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

# Chat (`image_config.aspect_ratio`) sizes for image_size 1K, from the reference table.
CHAT_SIZES_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
CHAT_IMAGE_SIZES = {"0.5K": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
RESOLUTION_EDGE = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}
ASPECT_RATIOS = frozenset(
    [
        "1:1",
        "1:2",
        "1:4",
        "1:8",
        "2:1",
        "2:3",
        "3:2",
        "3:4",
        "4:1",
        "4:3",
        "4:5",
        "5:4",
        "8:1",
        "9:16",
        "16:9",
        "9:19.5",
        "19.5:9",
        "9:20",
        "20:9",
        "9:21",
        "21:9",
        "auto",
    ]
)
LARGE_MIN_B64 = 1_500_000


def parse_ratio(aspect_ratio: str) -> float | None:
    """`"16:9"` → 1.777…; None for `auto` or anything unparsable."""
    left, sep, right = aspect_ratio.partition(":")
    try:
        w, h = float(left), float(right)
    except ValueError:
        return None
    return w / h if sep and w > 0 and h > 0 else None


def chat_pixels(aspect_ratio: str | None, image_size: str | None) -> tuple[int, int]:
    """Real output pixels for a Gemini-style chat request (before scaling down)."""
    scale = CHAT_IMAGE_SIZES.get(image_size or "1K", 1.0)
    ratio_key = aspect_ratio or "1:1"
    if ratio_key in CHAT_SIZES_1K:
        w, h = CHAT_SIZES_1K[ratio_key]
    else:
        ratio = parse_ratio(ratio_key) or 1.0
        w = round(1024 * ratio**0.5 / 16) * 16
        h = round(1024 / ratio**0.5 / 16) * 16
    return round(w * scale), round(h * scale)


def images_api_pixels(resolution: str | None, aspect_ratio: str | None) -> tuple[int, int]:
    """Real output pixels for an Image API request: the tier sets the long edge, the ratio the other."""
    edge = RESOLUTION_EDGE.get(resolution or "1K", 1024)
    ratio = parse_ratio(aspect_ratio or "1:1") or 1.0
    if ratio >= 1:
        return edge, max(1, round(edge / ratio))
    return max(1, round(edge * ratio)), edge


def scaled(pixels: tuple[int, int], divisor: int) -> tuple[int, int]:
    """Shrink real pixels so default responses stay a few hundred bytes."""
    d = max(1, divisor)
    return max(1, round(pixels[0] / d)), max(1, round(pixels[1] / d))


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=90)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=90)
    else:
        img.save(buf, "PNG", compress_level=1 if img.width * img.height > 1_000_000 else 6)
    return buf.getvalue()


@lru_cache(maxsize=512)
def render(prompt: str, width: int, height: int, fmt: str = "png", index: int = 0) -> bytes:
    """A small image whose colours depend on the prompt and image index, so different prompts differ."""
    if width * height > 1_000_000:
        return textured(width, height, fmt)
    return encode(draw(prompt, width, height, index), fmt)


@lru_cache(maxsize=128)
def render_background(prompt: str, width: int, height: int, fmt: str, index: int, background: str) -> bytes:
    """``transparent``: a real alpha channel (a fully transparent border around the opaque picture);
    ``checkerboard``: the fake — an opaque image whose border is painted as a transparency checkerboard."""
    img = draw(prompt, width, height, index)
    border = (width // 8, height // 8, width * 7 // 8, height * 7 // 8)
    if background == "transparent":
        alpha = Image.new("L", (width, height), 0)
        ImageDraw.Draw(alpha).rectangle(border, fill=255)
        img.putalpha(alpha)
        return encode(img, "webp" if fmt == "webp" else "png")
    board = Image.new("RGB", (width, height), (255, 255, 255))
    pen = ImageDraw.Draw(board)
    cell = max(1, min(width, height) // 16)
    for y in range(0, height, cell):
        for x in range((y // cell) % 2 * cell, width, 2 * cell):
            pen.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(204, 204, 204))
    board.paste(img.crop(border), border[:2])
    return encode(board, fmt)


def draw(prompt: str, width: int, height: int, index: int = 0) -> Image.Image:
    """The picture `render` encodes: a background, a centred rectangle and a diagonal, coloured by a hash."""
    digest = hashlib.sha256(f"{index}:{prompt}".encode()).digest()
    img = Image.new("RGB", (width, height), tuple(digest[0:3]))
    pen = ImageDraw.Draw(img)
    pen.rectangle((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=tuple(digest[3:6]))
    pen.line((0, 0, width - 1, height - 1), fill=tuple(digest[6:9]), width=max(1, width // 16))
    return img


@lru_cache(maxsize=8)
def textured(width: int, height: int, fmt: str = "png") -> bytes:
    """A big, realistic-weight image: smooth gradients plus blurred noise (4096² PNG ≈ 7 MB, ~0.6 s once)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    noise = Image.effect_noise((max(2, width // 32), max(2, height // 32)), 40)
    noise = noise.resize((width, height), Image.Resampling.BILINEAR)
    return encode(Image.merge("RGB", (gradient, radial, noise)), fmt)


@lru_cache(maxsize=4)
def large(fmt: str = "png") -> bytes:
    """Random noise, grown until its base64 form is at least 1.5 MB (one multi-MB SSE line)."""
    side = 720
    rng = random.Random(20260101)
    while True:
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        data = encode(img, fmt)
        if len(data) * 4 // 3 >= LARGE_MIN_B64:
            return data
        side = int(side * 1.4)


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_url(url: str) -> bytes:
    """Bytes of a base64 data URL; ValueError when it is not one or the payload is not base64."""
    if not url.startswith("data:"):
        raise ValueError("not a data URL")
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise ValueError("data URL is not base64")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64 in data URL") from exc


def is_image(data: bytes) -> bool:
    """Magic-byte check for the input formats OpenRouter accepts (png, jpeg, webp, gif)."""
    return (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        or data.startswith(b"\xff\xd8\xff")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or data[:6] in (b"GIF87a", b"GIF89a")
    )
