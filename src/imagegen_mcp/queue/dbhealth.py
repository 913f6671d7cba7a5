"""What a failing queue database means, said once, with the command that fixes it.

Every ``sqlite3.Error`` the store meets is translated here (:func:`translate`) into a
:class:`~imagegen_mcp.errors.StorageError` with a stable code:

- ``queue_corrupt``: the file is damaged (``PRAGMA quick_check`` fails, or SQLite says so). The fix
  is the exact command that moves the database aside; the queue is created anew on next use, and
  the receipts in ``results/`` and ``failed/`` stay where they are.
- ``queue_unwritable``: the directory or the files are read-only (or cannot be opened for writing).
- ``queue_failed``: anything else (busy for longer than the timeout, disk I/O).

Any other database error triggers a quick check, since damage often first shows as an odd error.
"""

from __future__ import annotations

import shlex
import sqlite3
import time
from pathlib import Path

from imagegen_mcp.errors import StorageError

CORRUPT = "queue_corrupt"
UNWRITABLE = "queue_unwritable"
FAILED = "queue_failed"
_FIX_DIR = "check that IMAGEGEN_QUEUE_DIR is a writable local directory (run the preflight tool)"
_UNWRITABLE = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def quick_check(conn: sqlite3.Connection) -> str | None:
    """What ``PRAGMA quick_check`` finds wrong (the first few problems), or None when the file is sound."""
    try:
        rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc) if _is_damage(exc) else None  # busy, read-only, disk I/O: the caller reports it
    found = [" ".join(str(r[0]).split()) for r in rows]  # one line: it ends up in an error message
    if found == ["ok"]:
        return None
    text = "; ".join(found)
    return text if len(text) <= 300 else text[:299] + "…"


def corrupt(db: Path, detail: str) -> StorageError:
    aside = db.parent / f"damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    command = f"mkdir -p {shlex.quote(str(aside))} && mv {shlex.quote(str(db))}* {shlex.quote(str(aside))}/"
    return StorageError(
        f"the job queue database {db} is damaged ({detail}); it is not used until it is moved aside",
        f"move it aside: {command} — the queue is created anew on next use, also by a running server or worker "
        f"(the receipts in {db.parent}/results and /failed stay); the jobs it held must be enqueued again",
        code=CORRUPT,
    )


def unwritable(queue_dir: Path, exc: BaseException) -> StorageError:
    return StorageError(
        f"the job queue in {queue_dir} is read-only or cannot be opened for writing ({exc})",
        f"make {queue_dir} and the queue.sqlite3* files in it writable for this user, "
        "or export IMAGEGEN_QUEUE_DIR=/a/writable/dir and restart",
        code=UNWRITABLE,
    )


def translate(exc: sqlite3.Error, db: Path, conn: sqlite3.Connection | None) -> StorageError:
    """The one boundary from ``sqlite3`` errors to the project's: which of the three it is, and the fix."""
    name = _name(exc)
    if _is_damage(exc):
        return corrupt(db, str(exc))
    if name.startswith(_UNWRITABLE) or "readonly" in str(exc):
        return unwritable(db.parent, exc)
    if isinstance(exc, sqlite3.DatabaseError) and not name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        found = quick_check(conn) if conn is not None else None
        if found is not None:
            return corrupt(db, f"{exc}; {found}")
    return StorageError(f"the job queue in {db.parent} failed: {exc}", _FIX_DIR, code=FAILED)


def _name(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def _is_damage(exc: sqlite3.Error) -> bool:
    return _name(exc).startswith(_CORRUPT) or "malformed" in str(exc) or "not a database" in str(exc)
