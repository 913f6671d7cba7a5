"""Bounded previews and contact sheets: what an agent sees in a tool result.

A saved image is the provider's bytes unchanged; previews and contact sheets are separate,
re-encoded JPEG copies sized to fit a tool result under Claude Desktop's 1 MiB cap.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

PREVIEW_LONG_EDGE = 1024
# Raw preview bytes allowed in one result. Base64 makes it 4/3 larger (~683 KiB), which leaves
# room for the text, links and structured content under the 1 MiB cap hosts enforce.
PREVIEW_BUDGET_BYTES = 512 * 1024


def preview(data: bytes, *, budget: int = PREVIEW_BUDGET_BYTES, long_edge: int = PREVIEW_LONG_EDGE) -> bytes:
    """A JPEG no larger than ``budget`` bytes, long edge at most ``long_edge`` px."""
    from PIL import Image

    from imagegen_mcp.imaging import strips

    small = strips.thumbnail(data, long_edge)  # a large PNG, reduced band by band: the same pixels, less memory
    if small is not None:
        return _fit_jpeg(_flatten(small), budget, long_edge)
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (long_edge, long_edge))  # JPEG: decode at reduced scale, cheaply
        im.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)  # in place: no full-size copies
        return _fit_jpeg(_flatten(im), budget, long_edge)


def contact_sheet(images: list[bytes], *, budget: int = PREVIEW_BUDGET_BYTES, long_edge: int = 1024) -> bytes:
    """One JPEG grid of several images, labelled 1..n, within ``budget`` bytes."""
    from PIL import Image, ImageDraw

    count = len(images)
    cols = min(4, max(1, round(count**0.5 + 0.49)))
    rows = -(-count // cols)
    # Cells take the tallest image's shape, so a grid of landscape images has no empty bands.
    ratios = []
    for data in images:
        with Image.open(io.BytesIO(data)) as im:
            ratios.append(im.height / max(1, im.width))
    cell_w = max(64, long_edge // cols)
    cell_h = max(16, round(cell_w * min(4.0, max(0.25, max(ratios)))))
    gap = 4
    sheet = Image.new("RGB", (cols * cell_w + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap), "#202020")
    draw = ImageDraw.Draw(sheet)
    for i, data in enumerate(images):
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (cell_w, cell_h))
            im.thumbnail((cell_w, cell_h), Image.Resampling.LANCZOS)
            tile = _flatten(im)
            x = gap + (i % cols) * (cell_w + gap) + (cell_w - tile.width) // 2
            y = gap + (i // cols) * (cell_h + gap) + (cell_h - tile.height) // 2
            sheet.paste(tile, (x, y))
        draw.rectangle((x, y, x + 22, y + 16), fill="#000000")
        draw.text((x + 4, y + 3), str(i + 1), fill="#ffffff")
    return _fit_jpeg(sheet, budget, long_edge)


def _flatten(im: PILImage) -> PILImage:
    """RGB on white: JPEG has no alpha, and a transparent logo must stay visible."""
    from PIL import Image

    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "#ffffff")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im if im.mode == "RGB" else im.convert("RGB")


def _fit_jpeg(im: PILImage, budget: int, long_edge: int) -> bytes:
    from PIL import Image

    im.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)  # in place; a no-op when small enough
    for quality in (85, 75, 60, 45, 30):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, optimize=True)
        if buf.tell() <= budget:
            return buf.getvalue()
    while True:  # pathological noise: shrink until it fits
        im.thumbnail((max(1, im.width * 3 // 4), max(1, im.height * 3 // 4)))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=30)
        if buf.tell() <= budget or im.width <= 16:
            return buf.getvalue()
