"""A large PNG reduced for its preview strip by strip, never decoded whole (issue 16, item 6).

``Image.thumbnail`` on a 4096x4096 PNG decodes all 48 MiB of it first. For the preview, Pillow then
reduces it by an integer box factor (``reducing_gap=2``) and resamples the rest with Lanczos. This
module does the same two steps, but decodes the PNG a band of rows at a time: each band is made into
a small PNG of its own (its first row is the band above's last row, unfiltered, so the Up/Average/
Paeth filters of the band's first real row decode exactly), decoded by Pillow, box-reduced, resampled
horizontally (Lanczos' first pass, row by row in Pillow too) and pasted; the vertical pass runs last
on that narrow image. The result is pixel for pixel what ``thumbnail`` gives (a test
compares them); peak memory is the reduced image plus one band.

Used only where that equality holds: 8-bit greyscale, grey+alpha, RGB or RGBA, not interlaced, sides
divisible by the reduce factor. Anything else returns None and the caller decodes as before.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: ("L", 1), 4: ("LA", 2), 2: ("RGB", 3), 6: ("RGBA", 4)}  # colour type -> mode, bytes per pixel
BAND_ROWS = 128  # rows decoded at once (a multiple of every reduce factor used: 1-4 divide it)
MIN_PIXELS = 4_000_000  # below this, decoding whole costs little


def target_size(width: int, height: int, box: tuple[int, int]) -> tuple[int, int] | None:
    """``Image.thumbnail``'s size for ``box`` (Pillow's own rounding), None when already small enough."""
    x, y = box
    if x >= width and y >= height:
        return None
    aspect = width / height

    def round_aspect(number: float, key: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def thumbnail(data: bytes, long_edge: int, reducing_gap: float = 2.0) -> PILImage | None:
    """``Image.open(data).thumbnail((long_edge,) * 2, LANCZOS)`` without the full decode; None: not applicable."""
    header = _header(data)
    if header is None:
        return None
    width, height, mode, bpp, chunks = header
    size = target_size(width, height, (long_edge, long_edge))
    if size is None or width * height < MIN_PIXELS:
        return None
    fx = int(width / size[0] / reducing_gap) or 1
    fy = int(height / size[1] / reducing_gap) or 1
    if (fx == 1 and fy == 1) or width % fx or height % fy or BAND_ROWS % fy:
        return None
    return _reduce_in_bands(data, chunks, width, height, mode, bpp, (fx, fy), size)


def _header(data: bytes) -> tuple[int, int, str, int, list[tuple[bytes, int, int]]] | None:
    if not data.startswith(SIGNATURE):
        return None
    chunks: list[tuple[bytes, int, int]] = []  # (type, start of data, length)
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((kind, pos + 8, length))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR":
        return None
    start = chunks[0][1]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[start : start + 13])
    if depth != 8 or interlace or colour not in CHANNELS:
        return None
    mode, bpp = CHANNELS[colour]
    return width, height, mode, bpp, chunks


def _reduce_in_bands(
    data: bytes,
    chunks: list[tuple[bytes, int, int]],
    width: int,
    height: int,
    mode: str,
    bpp: int,
    factor: tuple[int, int],
    size: tuple[int, int],
) -> PILImage:
    import io

    from PIL import Image

    work = {"LA": "La", "RGBA": "RGBa"}.get(mode, mode)  # Pillow resamples alpha images premultiplied
    # Lanczos runs as two passes, each rounded to 8 bits: the horizontal one is row by row, so it is done
    # per band too; only the vertical pass needs the (narrow) whole.
    # Pillow's order of the two passes is only known here when both scale alike; otherwise the band is
    # reduced only, and Pillow resamples the whole reduced image as thumbnail would.
    rw, rh = width // factor[0], height // factor[1]
    by_row = rw * size[1] == rh * size[0]
    reduced = Image.new(work, (size[0] if by_row else rw, rh))
    stream = zlib.decompressobj()
    view = memoryview(data)
    # Compressed input in 64 KiB slices, so no more than a band (plus a slice) is ever decompressed.
    slices = (
        view[i : min(s + n, i + 65536)] for kind, s, n in chunks if kind == b"IDAT" for i in range(s, s + n, 65536)
    )
    source: bytes | memoryview = b""
    pending = b""
    row_len = 1 + width * bpp
    previous = bytes(width * bpp)  # the row above the first: zeros, as the PNG filters define it
    for top in range(0, height, BAND_ROWS):
        rows = min(BAND_ROWS, height - top)
        want = rows * row_len
        while len(pending) < want:
            if not source:
                piece = next(slices, None)
                if piece is None:
                    raise ValueError("PNG image data ends early")
                source = piece
            pending += stream.decompress(source, want - len(pending))
            source = stream.unconsumed_tail
        raw, pending = b"\x00" + previous + pending[:want], pending[want:]
        band_png = _png(width, rows + 1, data, chunks, zlib.compress(raw, 0))
        with Image.open(io.BytesIO(band_png)) as band:
            band.load()
            previous = band.crop((0, rows, width, rows + 1)).tobytes()
            part = band.crop((0, 1, width, rows + 1))
        if work != mode:
            part = part.convert(work)
        small = part.reduce(factor)
        if by_row and small.width != size[0]:
            small = small.resize((size[0], small.height), Image.Resampling.LANCZOS)
        reduced.paste(small, (0, top // factor[1]))
        del part, small, raw, band_png
    result = reduced.resize(size, Image.Resampling.LANCZOS) if reduced.size != size else reduced
    return result.convert(mode) if work != mode else result


def _png(width: int, height: int, data: bytes, chunks: list[tuple[bytes, int, int]], idat: bytes) -> bytes:
    """A PNG of ``height`` rows with the source's header fields and ``idat`` (colour chunks do not change
    the pixels Pillow decodes, so they are left out)."""
    start = chunks[0][1]
    ihdr = struct.pack(">II", width, height) + data[start + 8 : start + 13]
    parts = [SIGNATURE, _chunk(b"IHDR", ihdr), _chunk(b"IDAT", idat), _chunk(b"IEND", b"")]
    return b"".join(parts)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
