"""Local image storage: where files go under the output directory, and how they get there.

``out`` paths are contained under the output directory. Writes are crash-safe: bytes go to a
temporary file in the target directory, are fsynced, and are then linked (never overwriting) or
renamed (overwrite) into place, so a reader or a crash never sees a half-written image under its
final name. Image ids (``imagegen://images/{id}``) are the file's relative path, base64url.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

from imagegen_mcp.errors import OutPathError, StorageError
from imagegen_mcp.imaging.codec import EQUIVALENT_SUFFIXES, MIME_EXT

if TYPE_CHECKING:
    pass


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
