"""A large PNG's preview, decoded band by band, is pixel for pixel what the whole-image thumbnail gives."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagegen_mcp.imaging import previews, strips


def png(mode: str, size: tuple[int, int], **save: object) -> bytes:
    noise = Image.effect_noise(size, 60).convert(mode)
    ramp = Image.linear_gradient("L").resize(size).convert(mode)
    buf = io.BytesIO()
    Image.blend(noise, ramp, 0.5).save(buf, "PNG", compress_level=1, **save)  # type: ignore[arg-type]
    return buf.getvalue()


def whole(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
        return im.copy()


@pytest.mark.parametrize(
    ("mode", "size"),
    [("RGB", (4096, 4096)), ("RGBA", (4096, 2304)), ("LA", (2304, 4096)), ("RGB", (4096, 4095)), ("L", (2048, 4096))],
)
def test_banded_decoding_gives_the_same_pixels_as_the_whole_image(mode: str, size: tuple[int, int]) -> None:
    data = png(mode, size)
    banded = strips.thumbnail(data, 1024)
    assert banded is not None
    expected = whole(data)
    assert banded.mode == expected.mode and banded.size == expected.size
    assert banded.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    ("mode", "size", "save"),
    [
        ("RGB", (1024, 768), {}),  # small: decoding whole costs little
        ("RGB", (4000, 3000), {}),  # no whole reduce factor
    ],
)
def test_anything_else_is_left_to_the_usual_decoder(mode: str, size: tuple[int, int], save: dict[str, object]) -> None:
    assert strips.thumbnail(png(mode, size, **save), 1024) is None


def test_the_preview_of_a_large_png_is_unchanged_in_bytes() -> None:
    data = png("RGB", (4096, 4096))
    expected = previews._fit_jpeg(previews._flatten(whole(data)), previews.PREVIEW_BUDGET_BYTES, 1024)
    assert previews.preview(data) == expected
