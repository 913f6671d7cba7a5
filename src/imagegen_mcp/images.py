"""Image bytes: sniff, measure, save atomically, and make bounded previews.

A saved image is the provider's bytes unchanged; previews and contact sheets are separate,
re-encoded copies sized to fit a tool result under Claude Desktop's 1 MiB cap.

Writes are crash-safe: bytes go to a temporary file in the target directory, are fsynced, and are
then linked (never overwriting) or renamed (overwrite) into place, so a reader or a crash never
sees a half-written image under its final name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ImageError, OutPathError, StorageError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

MIME_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}
EQUIVALENT_SUFFIXES = {".jpeg": ".jpg", ".jpe": ".jpg"}

PREVIEW_LONG_EDGE = 1024
# Raw preview bytes allowed in one result. Base64 makes it 4/3 larger (~683 KiB), which leaves
# room for the text, links and structured content under the 1 MiB cap hosts enforce.
PREVIEW_BUDGET_BYTES = 512 * 1024


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


def inspect(data: bytes) -> ImageFacts:
    """Sniffed type, pixel size (header only, no full decode) and digest."""
    from PIL import Image, UnidentifiedImageError

    mime = sniff(data)
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(
            f"the provider's {mime} image could not be read ({exc.__class__.__name__})",
            "try again, or pick another model; nothing was saved",
        ) from exc
    return ImageFacts(mime, width, height, hashlib.sha256(data).hexdigest(), len(data))


# --------------------------------------------------------------------------- paths


def resolve_target(output_dir: Path, out: str | None, default_stem: str, mime_type: str) -> Path:
    """The final path for an image: ``out`` resolved under ``output_dir``, or a generated name.

    ``out`` is relative to the output directory, or absolute inside it; one ending in ``/`` names
    a directory that gets a generated name. The file's suffix always matches its real format
    (bytes are never re-encoded, so ``cat.png`` holding a JPEG becomes ``cat.jpg``).
    """
    ext = MIME_EXT[mime_type]
    root = output_dir.resolve()
    if not out:
        return root / f"{default_stem}{ext}"
    as_dir = out.endswith(("/", os.sep))
    candidate = contained(root, out)
    if as_dir:
        return candidate / f"{default_stem}{ext}"
    suffix = EQUIVALENT_SUFFIXES.get(candidate.suffix.lower(), candidate.suffix.lower())
    if suffix in MIME_EXT.values() or suffix in EQUIVALENT_SUFFIXES:
        return candidate.with_suffix(ext)
    return candidate.with_name(candidate.name + ext)


def contained(root: Path, out: str) -> Path:
    """``out`` resolved under ``root``; :class:`OutPathError` if it leaves it (``..``, symlinks, ``/``)."""
    if "\x00" in out:
        raise OutPathError("out contains a NUL byte", "pass a plain relative path such as 'cats/fox.png'")
    raw = Path(out).expanduser()
    joined = raw if raw.is_absolute() else root / raw
    resolved = joined.resolve()
    if resolved != root and root not in resolved.parents:
        raise OutPathError(
            f"out={out!r} resolves to {resolved}, which is outside the output directory {root}",
            "pass a path relative to the output directory (e.g. 'cats/fox.png'), or change IMAGEGEN_OUTPUT_DIR",
        )
    return resolved


def default_stem(prompt: str, index: int = 0) -> str:
    """``20261122-143005-red-fox-in-snow-3fa2c1``: sortable, readable, unique enough to not collide."""
    words = re.findall(r"[^\W_]+", prompt.lower())[:6]
    slug = "-".join(words)[:40].strip("-") or "image"
    suffix = f"-{index + 1}" if index else ""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(3)}{suffix}"


# --------------------------------------------------------------------------- saving


def save_atomic(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` at ``path`` (or ``stem-2.ext`` … if taken and not ``overwrite``); return the path.

    tmp → fsync → link/rename, so no half-written file ever has the final name.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            final = _place(tmp, path, overwrite)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(final.parent)
        return final
    except OSError as exc:
        raise StorageError(
            f"could not write {path}: {exc.strerror or exc}",
            "check that IMAGEGEN_OUTPUT_DIR exists and is writable (run the preflight tool)",
        ) from exc


def _place(tmp: Path, path: Path, overwrite: bool) -> Path:
    if overwrite:
        os.replace(tmp, path)
        return path
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        try:
            os.link(tmp, candidate)  # fails if the name is taken: no overwrite, no race
            return candidate
        except FileExistsError:
            continue
    raise StorageError(f"no free file name near {path}", "pass another out, or overwrite=true")


def fsync_dir(directory: Path) -> None:
    """Make a rename or link durable (a no-op where directories cannot be opened, as on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform: the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- ids


def image_id(output_dir: Path, path: Path) -> str:
    """A stable, URI-safe id for a file under the output directory (its relative path, base64url)."""
    rel = path.resolve().relative_to(output_dir.resolve()).as_posix()
    return base64.urlsafe_b64encode(rel.encode()).decode().rstrip("=")


def path_for_id(output_dir: Path, ident: str) -> Path:
    """The inverse of :func:`image_id`; :class:`OutPathError` for ids that do not name a file inside."""
    try:
        rel = base64.urlsafe_b64decode(ident + "=" * (-len(ident) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise OutPathError(f"{ident!r} is not an image id", "use a uri returned by generate_image") from None
    return contained(output_dir.resolve(), rel)


def image_uri(output_dir: Path, path: Path) -> str:
    return f"imagegen://images/{image_id(output_dir, path)}"


# --------------------------------------------------------------------------- previews


def preview(data: bytes, *, budget: int = PREVIEW_BUDGET_BYTES, long_edge: int = PREVIEW_LONG_EDGE) -> bytes:
    """A JPEG no larger than ``budget`` bytes, long edge at most ``long_edge`` px."""
    from PIL import Image

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
