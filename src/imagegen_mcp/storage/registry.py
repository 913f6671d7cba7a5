"""Which images this server generated: a record by sha256, shared by every process on the machine.

Design decision 6: a local file goes to a provider only with ``confirm_external_upload``, and the
one exemption is an image this server made. "In the output directory" is not that: anyone can put
a file there, or a hard link to a file elsewhere. So every image the pipeline saves is recorded here
by the sha256 of its bytes (and its path, for people reading the record); a local input is exempt
exactly when its bytes' sha256 is recorded. A hard link to unrecorded content is just an
unrecorded file, and an edited copy of a generated image has another digest, so both need the
confirmation.

One machine: a small SQLite database, ``<queue dir>/generated.sqlite3`` (WAL, one connection per
call, so the server, ``imagegen-mcp generate`` and ``imagegen-mcp worker`` processes share it and it
survives restarts). The team shape will implement :class:`GeneratedImages` over PostgreSQL.

Recording is best effort: an image that was saved but could not be recorded (queue dir not
writable) is still the user's image; the cost is only that sending it back needs the confirmation.
Looking up fails safe: an unreadable record means "not generated here".
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger("imagegen_mcp.registry")

DB_NAME = "generated.sqlite3"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS images ("
    " sha256 TEXT NOT NULL, path TEXT NOT NULL, saved_at REAL NOT NULL, PRIMARY KEY (sha256, path))"
)


class GeneratedImages(Protocol):
    """The record of images this server saved."""

    def add(self, sha256: str, path: str) -> None: ...

    def contains(self, sha256: str) -> bool: ...


class SqliteGeneratedImages:
    """:class:`GeneratedImages` in ``<directory>/generated.sqlite3``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / DB_NAME

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        return conn

    def add(self, sha256: str, path: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(self._connect()) as conn:
                conn.execute("INSERT OR IGNORE INTO images VALUES (?, ?, ?)", (sha256, path, time.time()))
        except (OSError, sqlite3.Error) as exc:
            log.warning("could not record generated image %s in %s: %s", path, self.path, exc)

    def contains(self, sha256: str) -> bool:
        if not self.path.is_file():
            return False
        try:
            with contextlib.closing(self._connect()) as conn:
                row = conn.execute("SELECT 1 FROM images WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        except (OSError, sqlite3.Error) as exc:
            log.warning("could not read the generated-images record %s: %s", self.path, exc)
            return False
        return row is not None


def generated_images(queue_dir: Path) -> GeneratedImages:
    """The record for this configuration (the queue directory on one machine)."""
    return SqliteGeneratedImages(queue_dir)
