"""Masks and outpaint canvases: one polarity (white = change), the image's size, nothing empty."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagegen_mcp.errors import RequestError
from imagegen_mcp.imaging import masks


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_mask_from_box_is_white_inside_the_box_and_black_outside() -> None:
    mask = _open(masks.mask_from_box(200, 100, [0.25, 0.5, 0.75, 1.0]))
    assert mask.mode == "L" and mask.size == (200, 100)
    assert mask.getpixel((100, 75)) == 255
    assert mask.getpixel((10, 10)) == 0
    assert mask.getbbox() == (50, 50, 150, 100)


@pytest.mark.parametrize("box", [[0.5, 0.5, 0.2, 0.9], [0, 0, 1.5, 1], [0, 0, 1]])
def test_a_bad_mask_box_is_refused_naming_it(box: list[float]) -> None:
    with pytest.raises(RequestError) as caught:
        masks.mask_from_box(10, 10, box)
    assert "mask_box" in caught.value.message


def test_transparent_pixels_of_a_png_mark_the_change() -> None:
    im = Image.new("RGBA", (40, 40), (0, 0, 0, 255))
    im.paste((0, 0, 0, 0), (10, 10, 20, 20))
    mask = _open(masks.normalize_mask(_png(im), 40, 40))
    assert mask.mode == "L"
    assert mask.getbbox() == (10, 10, 20, 20)
    assert mask.getpixel((15, 15)) == 255 and mask.getpixel((30, 30)) == 0


def test_a_grey_black_and_white_mask_is_thresholded() -> None:
    im = Image.new("RGB", (40, 40), (20, 20, 20))
    im.paste((200, 200, 200), (0, 0, 20, 40))
    mask = _open(masks.normalize_mask(_png(im), 40, 40))
    assert set(mask.tobytes()) == {0, 255}
    assert mask.getbbox() == (0, 0, 20, 40)


def test_a_mask_with_the_images_shape_is_resized_and_another_shape_refused() -> None:
    small = Image.new("L", (20, 10), 0)
    small.paste(255, (0, 0, 10, 10))
    resized = _open(masks.normalize_mask(_png(small), 200, 100))
    assert resized.size == (200, 100) and resized.getbbox() == (0, 0, 100, 100)
    with pytest.raises(RequestError) as caught:
        masks.normalize_mask(_png(Image.new("L", (30, 30), 255)), 200, 100)
    assert caught.value.code == "mask_size_mismatch" and "200x100" in caught.value.message


def test_an_all_black_mask_is_refused() -> None:
    with pytest.raises(RequestError) as caught:
        masks.normalize_mask(_png(Image.new("L", (8, 8), 0)), 8, 8)
    assert caught.value.code == "mask_empty"


def test_alpha_form_for_openai_is_transparent_where_the_mask_is_white() -> None:
    rgba = _open(masks.to_alpha_mask(masks.mask_from_box(10, 10, [0, 0, 0.5, 1])))
    assert rgba.mode == "RGBA"
    assert rgba.getpixel((2, 5))[3] == 0 and rgba.getpixel((8, 5))[3] == 255


def test_expand_for_aspect_grows_a_square_to_sixteen_by_nine() -> None:
    grown = masks.expand_for_aspect(900, 900, "16:9")
    assert grown["up"] == grown["down"] == 0
    assert 900 + grown["left"] + grown["right"] == 1600
    tall = masks.expand_for_aspect(1600, 900, "1:1")
    assert tall["left"] == 0 and 900 + tall["up"] + tall["down"] == 1600


def test_outpaint_canvas_places_the_picture_and_masks_only_the_new_border() -> None:
    picture = _png(Image.new("RGB", (100, 50), (10, 200, 10)))
    canvas = masks.outpaint_canvas(picture, masks.checked_expand({"left": 20, "down": 30}))
    image, mask = _open(canvas.image), _open(canvas.mask)
    assert image.size == mask.size == (120, 80) == (canvas.width, canvas.height)
    assert image.getpixel((5, 5))[3] == 0 and image.getpixel((60, 20)) == (10, 200, 10, 255)
    assert mask.getpixel((5, 5)) == 255 and mask.getpixel((60, 20)) == 0 and mask.getpixel((60, 70)) == 255


@pytest.mark.parametrize("expand", [{"left": -1}, {"sideways": 3}, {}])
def test_a_bad_expand_is_refused_naming_it(expand: dict[str, int]) -> None:
    with pytest.raises(RequestError) as caught:
        masks.checked_expand(expand)
    assert "expand" in caught.value.message


def test_mask_preview_tints_only_the_masked_area() -> None:
    picture = _png(Image.new("RGB", (10, 10), (0, 0, 255)))
    shown = _open(masks.mask_preview(picture, masks.mask_from_box(10, 10, [0, 0, 0.5, 1]))).convert("RGB")
    assert shown.getpixel((8, 5)) == (0, 0, 255)
    r, _g, b = shown.getpixel((2, 5))
    assert r > 100 and b < 200
