"""One bounded reader for every local file a user names (baseline images, ``imagegen://images/`` ids).

A path from a request can name anything: a FIFO (an ``open`` that never returns and pins a worker
thread), a character device (``/dev/zero``: read until memory runs out), a sparse 1 GiB file, or a
symlink swapped in after a check. :func:`read_regular` reads only a regular file, no larger than a
cap, and never blocks:

1. ``lstat``: a regular file (not a symlink, FIFO, socket or device) no larger than the cap;
2. ``open`` with ``O_NOFOLLOW | O_NONBLOCK``: a symlink or FIFO swapped in since step 1 cannot
   redirect or block the open;
3. ``fstat`` of the open descriptor: still the same regular file (device and inode), still under the cap;
4. read at most ``cap + 1`` bytes, so a file that grows while being read is refused, not followed.

Refusals are :class:`~imagegen_mcp.errors.RequestError` naming the argument (``what``) with a fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from imagegen_mcp.errors import RequestError

MIB = 1024 * 1024
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1024 * 1024


def read_regular(path: Path, *, max_bytes: int, what: str, fix_size: str = "pass a smaller image") -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``); :class:`RequestError` otherwise.

    ``what`` names the argument in errors; ``fix_size`` is the fix for a file over the cap.
    """
    try:
        before = os.lstat(path)
    except OSError as exc:
        raise RequestError(
            f"cannot read {what} {path}: {exc.strerror or exc}", "check the path and the file's permissions"
        ) from None
    _check(before, path, max_bytes, what, fix_size)
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:  # ELOOP: a symlink was swapped in after the lstat
        raise RequestError(
            f"cannot read {what} {path}: {exc.strerror or exc}", "pass the real path of a regular image file"
        ) from None
    try:
        now = os.fstat(fd)
        _check(now, path, max_bytes, what, fix_size)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise RequestError(f"{what} {path} was replaced while it was being read", "call again")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise RequestError(f"cannot read {what} {path}: {exc.strerror or exc}", "check the file") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise _too_large(path, total, max_bytes, what, fix_size)
    return b"".join(chunks)


def _check(st: os.stat_result, path: Path, max_bytes: int, what: str, fix_size: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise RequestError(
            f"{what} {path} is {kind}, not a regular file; only regular image files are read",
            "pass the path of a PNG, JPEG or WebP file",
            code="not_a_regular_file",
        )
    if st.st_size > max_bytes:
        raise _too_large(path, st.st_size, max_bytes, what, fix_size)


def _too_large(path: Path, size: int, max_bytes: int, what: str, fix_size: str) -> RequestError:
    return RequestError(
        f"{what} {path} is too large: {size / MIB:.4g} MiB, over the {_mib(max_bytes)} MiB limit",
        fix_size,
        code="file_too_large",
    )


def _mib(n: int) -> str:
    """The cap as it was configured (``IMAGEGEN_MAX_BASELINE_MB=0.0001`` reads back as 0.0001)."""
    return f"{round(n / MIB, 4):g}"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"
