"""The durable job queue: SQLite in WAL mode in ``IMAGEGEN_QUEUE_DIR`` (``queue.sqlite3``).

Every state change is one ``BEGIN IMMEDIATE`` transaction, so several servers and ``imagegen-mcp
worker`` processes can share one queue directory:

- **claim**: in one transaction, reclaim orphans, then move due ``queued`` jobs to ``running`` under a
  lease (``lease_owner``, ``lease_expires``) and count the run (``attempts``, which fences the
  lease). Only ``queued`` rows are claimed, so a live-leased job is never handed out twice.
- **heartbeat**: the owner renews its leases every ``orphan_timeout / 3``.
- **reclaim**: a ``running`` job is taken back when its lease has expired (no heartbeat for
  ``IMAGEGEN_ORPHAN_TIMEOUT_S``) or when its owner is a process on this host that no longer exists
  (so a server killed and restarted does not wait half an hour for its own jobs). Owners on other
  hosts, and processes that still exist, are trusted until their lease expires. A reclaimed run
  counts as a lost lease, not as an attempt (``max_attempts`` is for failures); a job lost
  ``MAX_LOST_LEASES`` times fails with ``worker_lost``.
- **finish**: ``succeeded`` / ``failed`` (or ``queued`` again with ``not_before`` for a retry) only
  while the caller still holds the lease; a job that finished is never run again.

Each finished job gets a JSON receipt in ``results/`` or ``failed/``. The row is committed first,
then the receipt is written atomically and the row marked; :meth:`JobQueue.pending_receipts` finds
rows whose receipt a crash interrupted, so every finished job ends with exactly one receipt.

The schema (:mod:`imagegen_mcp.queue.schema`) is versioned with ``PRAGMA user_version``: an older
database is migrated in place, one from a newer release is refused. Faults never escape as raw
``sqlite3`` errors: a damaged row is quarantined (:mod:`imagegen_mcp.queue.rows`), a damaged or
read-only database is a ``StorageError`` with the fix (:mod:`imagegen_mcp.queue.dbhealth`; checked on
open, and on any database error). All methods are synchronous (sqlite3); async callers run them
with ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from imagegen_mcp.errors import StorageError
from imagegen_mcp.queue import dbhealth
from imagegen_mcp.queue.jobs import Job, NewJob, make_owner, new_id, owner_alive
from imagegen_mcp.queue.receipts import iso, write_json_atomic
from imagegen_mcp.queue.schema import MAX_LOST_LEASES, MIGRATIONS, SCHEMA_VERSION, run_script
from imagegen_mcp.queue.sqlstore import DEFAULT_MAX_ATTEMPTS, WORKER_LOST, SqlJobStore, request_id_conflict
from imagegen_mcp.storage.local import fsync_dir

__all__ = [
    "DEFAULT_MAX_ATTEMPTS", "MAX_LOST_LEASES", "SCHEMA_VERSION", "WORKER_LOST", "Job", "JobQueue", "NewJob",
    "fsync_dir", "iso", "make_owner", "new_id", "owner_alive", "request_id_conflict", "write_json_atomic",
]  # fmt: skip

log = logging.getLogger("imagegen_mcp.queue")

DB_NAME = "queue.sqlite3"


class JobQueue(SqlJobStore):
    """One queue directory. Thread-safe; one connection per instance, serialised by a lock."""

    def __init__(
        self,
        queue_dir: Path,
        *,
        orphan_timeout_s: float = 1800.0,
        clock: Callable[[], float] = time.time,
        is_alive: Callable[[str], bool] = owner_alive,
    ) -> None:
        super().__init__(queue_dir, orphan_timeout_s=orphan_timeout_s, clock=clock, is_alive=is_alive)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._reopen = False  # set when a damaged database was closed: the next use opens it again

    # ------------------------------------------------------------------ connection

    @property
    def db_path(self) -> Path:
        return self.dir / DB_NAME

    def open(self) -> JobQueue:
        """Create (on first use) or open the queue; refuse a damaged or too-new database."""
        with self._lock:
            self._connect()
        return self

    def _connect(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            for d in (self.dir, self.results_dir, self.failed_dir):
                d.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise StorageError(f"the queue database in {self.dir} cannot use WAL mode", _FIX_DIR)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            damage = dbhealth.quick_check(conn)  # cheap, and the only way to see garbage before it bites
            if damage is not None:
                raise dbhealth.corrupt(self.db_path, damage)
        except (OSError, sqlite3.Error, StorageError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, StorageError):
                raise
            if isinstance(exc, sqlite3.Error):
                raise dbhealth.translate(exc, self.db_path, None) from exc
            raise StorageError(f"cannot open the job queue in {self.dir}: {exc}", _FIX_DIR) from exc
        self._conn = conn
        self._reopen = False
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _migrate(self) -> None:
        with self._write() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"the queue in {self.dir} has schema version {version}; this imagegen-mcp knows {SCHEMA_VERSION}",
                    "upgrade imagegen-mcp, or point IMAGEGEN_QUEUE_DIR at another directory",
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                run_script(c, MIGRATIONS[target])
                c.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error."""
        with self._lock:
            conn = self._require()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failure(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):  # the error below is what the caller needs to hear
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failure(exc) from exc
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._require()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._failure(exc) from exc

    def _failure(self, exc: sqlite3.Error) -> StorageError:
        """Translate ``exc`` (the one boundary); a damaged database is closed and reopened on next use,
        so moving the file aside is enough for a running server to start a fresh queue."""
        error = dbhealth.translate(exc, self.db_path, self._conn)
        if error.code == dbhealth.CORRUPT and self._conn is not None:
            self._conn.close()
            self._conn = None
            self._reopen = True
        return error

    def _require(self) -> sqlite3.Connection:
        if self._conn is None and self._reopen:
            self._connect()
        if self._conn is None:
            raise StorageError("the job queue is not open", "this is a bug: open() the queue before use")
        return self._conn

    # ------------------------------------------------------------------ SQLite's fragments

    def _due_sql(self) -> str:
        # A damaged row (not_before stored as text) is picked too, so that it is quarantined by the
        # claim instead of sitting in front of the queue forever.
        return (
            f"SELECT {self._columns()} FROM jobs WHERE status = 'queued'"
            " AND (not_before <= ? OR typeof(not_before) NOT IN ('integer', 'real'))"
            " ORDER BY not_before, rowid LIMIT ?"
        )

    def _pending_sql(self) -> str:
        return (
            "SELECT COUNT(*) AS n, MIN(CASE WHEN typeof(not_before) IN ('integer', 'real') THEN not_before END)"
            " AS due FROM jobs WHERE status = 'queued'"  # a damaged time is no time: claim quarantines it
        )

    def _out_dirs_sql(self) -> str:
        return "SELECT DISTINCT CASE WHEN json_valid(info) THEN json_extract(info, '$.out_dir') END AS d FROM requests"


_FIX_DIR = "check that IMAGEGEN_QUEUE_DIR is a writable local directory (run the preflight tool)"
