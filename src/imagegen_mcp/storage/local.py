"""Local image storage: where files go under the output directory, and how they get there.

``out`` paths are contained under the output directory, and :func:`check_target` checks a target
completely before any provider is called (design decision 5: never pay for an image you cannot
keep). Writes are crash-safe: bytes go to a temporary file in the target directory, are fsynced,
and are then linked (never overwriting) or renamed (overwrite) into place, so a reader or a crash
never sees a half-written image under its final name. Image ids (``imagegen://images/{id}``) are
the file's relative path, base64url.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from imagegen_mcp.errors import OutPathError, StorageError
from imagegen_mcp.imaging.codec import EQUIVALENT_SUFFIXES, MIME_EXT

if TYPE_CHECKING:
    pass

MIB = 1024 * 1024
# Full-size image files this server reads back (the imagegen://images/ resource, previews of results).
MAX_IMAGE_BYTES = 64 * MIB
# NAME_MAX of every common filesystem, in bytes. A file name also has to leave room for what is
# added at write time: an image index and a collision suffix ("-4-9999"), the longest real suffix
# (".webp"), and the temporary names used while writing (".<name>.<token>.tmp" here,
# ".<name>.<job id>.tmp" in the queue's placement).
NAME_MAX = 255
NAME_RESERVE = len("-4-9999") + len(".webp") + len("..j_0123456789abcdefghjkmnpqrs.tmp") + 8
# Generation is refused when the output disk has less free space than this (IMAGEGEN_MIN_FREE_MB).
DEFAULT_MIN_FREE_BYTES = 64 * MIB


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


def contained(root: Path, out: str, *, arg: str = "out") -> Path:
    """``out`` resolved under ``root``; :class:`OutPathError` if it leaves it (``..``, symlinks, ``/``).

    The root itself is contained (``out_dir="."`` is the output directory); :func:`check_target`
    refuses it where a file is meant.
    """
    if "\x00" in out:
        raise OutPathError(f"{arg} contains a NUL byte", "pass a plain relative path such as 'cats/fox.png'")
    raw = Path(out).expanduser()
    joined = raw if raw.is_absolute() else root / raw
    resolved = joined.resolve()
    if resolved != root and root not in resolved.parents:
        raise OutPathError(
            f"{arg}={out!r} resolves to {resolved}, which is outside the output directory {root}",
            "pass a path relative to the output directory (e.g. 'cats/fox.png'), or change IMAGEGEN_OUTPUT_DIR",
        )
    return resolved


# --------------------------------------------------------------------------- checks before any request


def check_target(
    output_dir: Path, out: str | None, *, arg: str = "out", min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
) -> Path:
    """Check, before anything is sent or billed, that an image can be written for ``out``; the directory.

    ``arg`` is the argument being checked: ``out`` (a file, or a directory when it ends in ``/``) or
    ``out_dir`` (always a directory). Refused, with an error naming ``arg`` and the fix:

    - anything outside the output directory, and — for a file — the output directory itself
      (``.``, ``sub/..``, a last component of ``.`` or ``..``);
    - a path component longer than ``NAME_MAX`` (255 bytes), the file name counted with what is
      added at write time (see ``NAME_RESERVE``);
    - a parent that exists and is not a directory (``a.png/b.png`` where ``a.png`` is a file), and a
      file name already taken by a directory;
    - an output directory (``IMAGEGEN_OUTPUT_DIR``) that is a file or cannot be created, or is not
      writable;
    - less than ``min_free_bytes`` free on its disk (``IMAGEGEN_MIN_FREE_MB``, default 64).

    A target that passes can still fail to be written (the disk fills up meanwhile): then the
    pipeline keeps the billed bytes in a recovery folder (:mod:`imagegen_mcp.storage.recovery`).
    """
    root = output_dir.resolve()
    check_output_dir(root)
    directory = root
    if out:
        as_dir = arg == "out_dir" or out.endswith(("/", os.sep))
        last = out.rstrip("/" + os.sep).rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]
        candidate = contained(root, out, arg=arg)
        if not as_dir and (candidate == root or last in (".", "..", "")):
            raise OutPathError(
                f"{arg}={out!r} names a folder ({candidate}), not a file; nothing was sent or charged",
                f"pass a file name such as {arg}='fox.png', or end {arg} with '/' to get generated names in a folder",
            )
        names = list(candidate.relative_to(root).parts)
        if not as_dir:
            final = resolve_target(root, out, "x", "image/webp").name  # the longest suffix
            names[-1] = final
        for i, name in enumerate(names):
            limit = NAME_MAX - (NAME_RESERVE if i == len(names) - 1 and not as_dir else 0)
            if len(name.encode()) > limit:
                raise OutPathError(
                    f"{arg}={out!r} has a name too long for the file system ({len(name.encode())} bytes:"
                    f" {name[:40]}…; at most {limit} fit); nothing was sent or charged",
                    f"pass a shorter {arg}",
                )
        directory = candidate if as_dir else candidate.parent
        blocker = blocking_file(directory)
        if blocker is not None and blocker != root and root in blocker.parents:
            raise OutPathError(
                f"{arg}={out!r} needs {blocker} to be a folder, but it is a file; nothing was sent or charged",
                f"pass another {arg}, or move the file {blocker} away",
            )
        if not as_dir:
            for mime in MIME_EXT:
                taken = resolve_target(root, out, "x", mime)
                if taken.is_dir():
                    raise OutPathError(
                        f"{arg}={out!r} would be saved as {taken}, which is a folder; nothing was sent or charged",
                        f"pass another {arg} (or {arg}='{out.rstrip('/')}/' to save inside that folder)",
                    )
    _check_room(nearest_existing(directory), min_free_bytes)
    return directory


def check_output_dir(root: Path, variable: str = "IMAGEGEN_OUTPUT_DIR") -> None:
    """:class:`StorageError` naming ``variable`` when ``root`` is, or lies under, a file."""
    blocker = blocking_file(root)
    if blocker is not None:
        raise StorageError(
            f"{variable}={root} cannot be used: {blocker} is a file, not a directory; nothing was sent or charged",
            f"set {variable} to a directory (and restart), or move the file {blocker} away",
        )


def blocking_file(path: Path) -> Path | None:
    """The existing non-directory that keeps ``path`` from being a directory (itself or an ancestor)."""
    for p in (path, *path.parents):
        try:
            st = os.stat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None  # e.g. permission denied: the write itself will say so
        return None if stat.S_ISDIR(st.st_mode) else p
    return None


def nearest_existing(path: Path) -> Path:
    """``path``, or its closest ancestor that exists (where a new folder would be created)."""
    for p in (path, *path.parents):
        if os.path.isdir(p):
            return p
    return Path(path.anchor or "/")


def _check_room(directory: Path, min_free_bytes: int) -> None:
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StorageError(
            f"{directory} is not writable, so images cannot be saved there; nothing was sent or charged",
            "make it writable, or set IMAGEGEN_OUTPUT_DIR to a writable directory (run the preflight tool)",
        )
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return  # no statvfs here: the write will report a full disk, and the bytes are recovered
    if free < min_free_bytes:
        raise StorageError(
            f"only {free / MIB:.1f} MiB free on the disk of {directory} (at least {min_free_bytes / MIB:g} MiB"
            " needed); nothing was sent or charged",
            "free some space, or set IMAGEGEN_OUTPUT_DIR to a disk with room (IMAGEGEN_MIN_FREE_MB sets the floor)",
            code="disk_full",
        )


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
    raise StorageError(f"no free file name near {path}", "pass another out, or overwrite=true", code="target_taken")


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
