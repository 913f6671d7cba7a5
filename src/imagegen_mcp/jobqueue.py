"""The durable job queue: SQLite in WAL mode in ``IMAGEGEN_QUEUE_DIR`` (``queue.sqlite3``).

Every state change is one ``BEGIN IMMEDIATE`` transaction, so several servers and ``imagegen-mcp
worker`` processes can share one queue directory:

- **claim**: in one transaction, reclaim orphans, then move due ``queued`` jobs to ``running`` under a
  lease (``lease_owner``, ``lease_expires``) and count the attempt. Only ``queued`` rows are
  claimed, so a live-leased job is never handed out twice.
- **heartbeat**: the owner renews its leases every ``orphan_timeout / 3``.
- **reclaim**: a ``running`` job is taken back when its lease has expired (no heartbeat for
  ``IMAGEGEN_ORPHAN_TIMEOUT_S``) or when its owner is a process on this host that no longer exists
  (so a server killed and restarted does not wait half an hour for its own jobs). Owners on other
  hosts, and processes that still exist, are trusted until their lease expires. A reclaimed job
  whose attempts are used up fails with ``worker_lost``.
- **finish**: ``succeeded`` / ``failed`` (or ``queued`` again with ``not_before`` for a retry) only
  while the caller still holds the lease; a job that finished is never run again.

Each finished job gets a JSON receipt in ``results/`` or ``failed/``. The row is committed first,
then the receipt is written atomically and the row marked; :meth:`JobQueue.pending_receipts` finds
rows whose receipt a crash interrupted, so every finished job ends with exactly one receipt.

The schema is versioned with ``PRAGMA user_version``; a database from a newer release is refused.
All methods are synchronous (sqlite3); async callers run them with ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import RequestError, StorageError

SCHEMA_VERSION = 1
DB_NAME = "queue.sqlite3"
DEFAULT_MAX_ATTEMPTS = 5
FINISHED_SQL = "('succeeded', 'failed', 'cancelled')"

_SCHEMA_V1 = f"""
CREATE TABLE requests (
    request_id   TEXT PRIMARY KEY,
    payload_sha  TEXT NOT NULL,
    payload      TEXT NOT NULL,
    info         TEXT NOT NULL,
    created_at   REAL NOT NULL
);
CREATE TABLE jobs (
    job_id        TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL REFERENCES requests(request_id),
    idx           INTEGER NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    spec          TEXT NOT NULL,
    target        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    not_before    REAL NOT NULL,
    lease_owner   TEXT,
    lease_expires REAL,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    result        TEXT,
    error         TEXT,
    last_error    TEXT,
    cost_usd      REAL,
    receipt       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (request_id, idx)
);
CREATE INDEX jobs_due ON jobs (status, not_before);
CREATE INDEX jobs_target ON jobs (target);
CREATE INDEX jobs_unreceipted ON jobs (job_id) WHERE receipt = 0 AND status IN {FINISHED_SQL};
CREATE TABLE attempts (
    job_id     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    owner      TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at   REAL,
    outcome    TEXT,
    error      TEXT,
    PRIMARY KEY (job_id, n)
);
"""

MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1}

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """``j_`` + 10 time characters (ms, sortable) + 6 random ones: ``j_01jdz8k3xqv7m2ta9c``."""
    ms = int(time.time() * 1000)
    stamp = "".join(_CROCKFORD[(ms >> shift) & 31] for shift in range(45, -1, -5))
    rand = "".join(secrets.choice(_CROCKFORD) for _ in range(6))
    return f"{prefix}_{stamp}{rand}"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_owner() -> str:
    """A lease owner: ``host/pid/token``, unique per worker."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process on this host that no longer exists."""
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or os.name == "nt":
        return True  # another host (or Windows, where kill(pid, 0) is not a probe): trust the lease
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else
    return True


@dataclass
class NewJob:
    index: int
    target: str
    spec: dict[str, Any]


@dataclass
class Job:
    job_id: str
    request_id: str
    index: int
    status: str
    spec: dict[str, Any]
    target: str
    attempts: int
    max_attempts: int
    not_before: float
    lease_owner: str | None
    lease_expires: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    last_error: dict[str, Any] | None
    cost_usd: float | None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        def obj(name: str) -> Any:
            return json.loads(row[name]) if row[name] is not None else None

        return cls(
            job_id=row["job_id"], request_id=row["request_id"], index=row["idx"], status=row["status"],
            spec=obj("spec"), target=row["target"], attempts=row["attempts"], max_attempts=row["max_attempts"],
            not_before=row["not_before"], lease_owner=row["lease_owner"], lease_expires=row["lease_expires"],
            created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
            result=obj("result"), error=obj("error"), last_error=obj("last_error"), cost_usd=row["cost_usd"],
        )  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


WORKER_LOST = {
    "code": "worker_lost",
    "error_class": "WorkerLost",
    "message": "the worker running this job stopped (killed, crashed or lost its lease) before it finished",
}


class JobQueue:
    """One queue directory. Thread-safe; one connection per instance, serialised by a lock."""

    def __init__(
        self,
        queue_dir: Path,
        *,
        orphan_timeout_s: float = 1800.0,
        clock: Callable[[], float] = time.time,
        is_alive: Callable[[str], bool] = owner_alive,
    ) -> None:
        self.dir = queue_dir
        self.results_dir = queue_dir / "results"
        self.failed_dir = queue_dir / "failed"
        self.orphan_timeout_s = orphan_timeout_s
        self.clock = clock
        self.is_alive = is_alive
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ connection

    def open(self) -> JobQueue:
        try:
            for d in (self.dir, self.results_dir, self.failed_dir):
                d.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.dir / DB_NAME, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise StorageError(f"the queue database in {self.dir} cannot use WAL mode", _FIX_DIR)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the job queue in {self.dir}: {exc}", _FIX_DIR) from exc
        self._conn = conn
        self._migrate()
        return self

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
                _run_script(c, MIGRATIONS[target])
                c.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error."""
        with self._lock:
            conn = self._require()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"the job queue in {self.dir} is busy or unwritable: {exc}", _FIX_DIR) from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._require().execute(sql, params).fetchall()

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("the job queue is not open", "this is a bug: open() the queue before use")
        return self._conn

    # ------------------------------------------------------------------ enqueue

    def find_request(self, request_id: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """``(payload_sha, payload, info)`` of a stored request, or None."""
        rows = self._read("SELECT payload_sha, payload, info FROM requests WHERE request_id = ?", (request_id,))
        if not rows:
            return None
        return rows[0]["payload_sha"], json.loads(rows[0]["payload"]), json.loads(rows[0]["info"])

    def enqueue(
        self,
        request_id: str,
        payload_sha: str,
        payload: dict[str, Any],
        info: dict[str, Any],
        jobs: list[NewJob],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        check_targets: bool = True,
    ) -> tuple[list[Job], bool]:
        """Insert a request and its jobs; ``(jobs, False)`` if the same request was already enqueued."""
        now = self.clock()
        with self._write() as c:
            row = c.execute("SELECT payload_sha FROM requests WHERE request_id = ?", (request_id,)).fetchone()
            if row is not None:
                if row["payload_sha"] != payload_sha:
                    raise request_id_conflict(request_id)
                return self._jobs_where(c, "request_id = ? ORDER BY idx", (request_id,)), False
            if check_targets and jobs:
                marks = ",".join("?" * len(jobs))
                busy = c.execute(
                    f"SELECT target FROM jobs WHERE target IN ({marks}) AND status IN ('queued', 'running')",
                    [j.target for j in jobs],
                ).fetchall()
                if busy:
                    raise RequestError(
                        f"another queued request will already write {busy[0]['target']}",
                        "pass another prefix (or out_dir), or overwrite=true",
                        code="target_taken",
                    )
            c.execute(
                "INSERT INTO requests (request_id, payload_sha, payload, info, created_at) VALUES (?, ?, ?, ?, ?)",
                (request_id, payload_sha, _dumps(payload), _dumps(info), now),
            )
            for job in jobs:
                c.execute(
                    "INSERT INTO jobs (job_id, request_id, idx, status, spec, target, max_attempts, not_before,"
                    " created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                    (new_id("j"), request_id, job.index, _dumps(job.spec), job.target, max_attempts, now, now),
                )
            return self._jobs_where(c, "request_id = ? ORDER BY idx", (request_id,)), True

    # ------------------------------------------------------------------ leases

    def claim(self, owner: str, limit: int) -> list[Job]:
        """Reclaim orphans, then lease up to ``limit`` due jobs to ``owner`` (one transaction)."""
        if limit <= 0:
            return []
        now = self.clock()
        with self._write() as c:
            self._reclaim(c, now)
            ids = [
                r["job_id"]
                for r in c.execute(
                    "SELECT job_id FROM jobs WHERE status = 'queued' AND not_before <= ?"
                    " ORDER BY not_before, rowid LIMIT ?",
                    (now, limit),
                )
            ]
            for job_id in ids:
                c.execute(
                    "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires = ?,"
                    " attempts = attempts + 1, started_at = COALESCE(started_at, ?) WHERE job_id = ?",
                    (owner, now + self.orphan_timeout_s, now, job_id),
                )
                c.execute(
                    "INSERT OR REPLACE INTO attempts (job_id, n, owner, started_at)"
                    " SELECT job_id, attempts, ?, ? FROM jobs WHERE job_id = ?",
                    (owner, now, job_id),
                )
            return self._jobs_in(c, ids)

    def _reclaim(self, c: sqlite3.Connection, now: float) -> None:
        rows = c.execute(
            "SELECT job_id, lease_owner, lease_expires, attempts, max_attempts FROM jobs WHERE status = 'running'"
        ).fetchall()
        alive: dict[str, bool] = {}
        for r in rows:
            owner = r["lease_owner"] or ""
            expired = r["lease_expires"] is None or r["lease_expires"] < now
            if not expired:
                if owner not in alive:
                    alive[owner] = self.is_alive(owner)
                if alive[owner]:
                    continue
            error = dict(WORKER_LOST)
            if r["attempts"] >= r["max_attempts"]:
                error["fix"] = (
                    f"it was started {r['attempts']} times; check the worker's log, then enqueue again "
                    "with a new request_id"
                )
                c.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (_dumps(error), _dumps(error), now, r["job_id"]),
                )
            else:
                error["fix"] = "nothing to do: the job was queued again and will be retried"
                c.execute(
                    "UPDATE jobs SET status = 'queued', not_before = ?, last_error = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (now, _dumps(error), r["job_id"]),
                )
            self._end_attempt(c, r["job_id"], r["attempts"], now, "lost", error)

    def heartbeat(self, owner: str, job_ids: Sequence[str]) -> set[str]:
        """Renew ``owner``'s leases on ``job_ids``; return the ids it still holds."""
        if not job_ids:
            return set()
        marks = ",".join("?" * len(job_ids))
        with self._write() as c:
            c.execute(
                f"UPDATE jobs SET lease_expires = ? WHERE lease_owner = ? AND status = 'running'"
                f" AND job_id IN ({marks})",
                (self.clock() + self.orphan_timeout_s, owner, *job_ids),
            )
            rows = c.execute(
                f"SELECT job_id FROM jobs WHERE lease_owner = ? AND status = 'running' AND job_id IN ({marks})",
                (owner, *job_ids),
            ).fetchall()
        return {r["job_id"] for r in rows}

    def release(self, owner: str, job_id: str, *, started: bool) -> bool:
        """Give a leased job back to ``queued`` (clean shutdown). A job never started keeps its attempt."""
        now = self.clock()
        with self._write() as c:
            row = c.execute(
                "SELECT attempts FROM jobs WHERE job_id = ? AND lease_owner = ? AND status = 'running'",
                (job_id, owner),
            ).fetchone()
            if row is None:
                return False
            attempts = row["attempts"] if started else row["attempts"] - 1
            c.execute(
                "UPDATE jobs SET status = 'queued', not_before = ?, attempts = ?, lease_owner = NULL,"
                " lease_expires = NULL, started_at = CASE WHEN ? = 0 THEN NULL ELSE started_at END"
                " WHERE job_id = ?",
                (now, attempts, attempts, job_id),
            )
            if started:
                self._end_attempt(c, job_id, row["attempts"], now, "interrupted", None)
            else:
                c.execute("DELETE FROM attempts WHERE job_id = ? AND n = ?", (job_id, row["attempts"]))
            return True

    # ------------------------------------------------------------------ finish

    def succeed(self, owner: str, job_id: str, result: dict[str, Any], cost_usd: float | None) -> Job | None:
        """Mark a leased job ``succeeded``; None if ``owner`` no longer holds it."""
        now = self.clock()
        with self._write() as c:
            attempts = self._held(c, owner, job_id)
            if attempts is None:
                return None
            c.execute(
                "UPDATE jobs SET status = 'succeeded', result = ?, cost_usd = ?, finished_at = ?, error = NULL,"
                " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                (_dumps(result), cost_usd, now, job_id),
            )
            self._end_attempt(c, job_id, attempts, now, "succeeded", None)
            return self._jobs_in(c, [job_id])[0]

    def fail(self, owner: str, job_id: str, error: dict[str, Any], *, retry_at: float | None = None) -> Job | None:
        """A failed attempt: queued again at ``retry_at`` while attempts remain, else ``failed``."""
        now = self.clock()
        with self._write() as c:
            row = c.execute(
                "SELECT attempts, max_attempts FROM jobs WHERE job_id = ? AND lease_owner = ? AND status = 'running'",
                (job_id, owner),
            ).fetchone()
            if row is None:
                return None
            if retry_at is not None and row["attempts"] < row["max_attempts"]:
                c.execute(
                    "UPDATE jobs SET status = 'queued', not_before = ?, last_error = ?, lease_owner = NULL,"
                    " lease_expires = NULL WHERE job_id = ?",
                    (retry_at, _dumps(error), job_id),
                )
                outcome = "retry"
            else:
                c.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (_dumps(error), _dumps(error), now, job_id),
                )
                outcome = "failed"
            self._end_attempt(c, job_id, row["attempts"], now, outcome, error)
            return self._jobs_in(c, [job_id])[0]

    def _held(self, c: sqlite3.Connection, owner: str, job_id: str) -> int | None:
        row = c.execute(
            "SELECT attempts FROM jobs WHERE job_id = ? AND lease_owner = ? AND status = 'running'", (job_id, owner)
        ).fetchone()
        return None if row is None else int(row["attempts"])

    @staticmethod
    def _end_attempt(
        c: sqlite3.Connection, job_id: str, n: int, now: float, outcome: str, error: dict[str, Any] | None
    ) -> None:
        c.execute(
            "UPDATE attempts SET ended_at = ?, outcome = ?, error = ? WHERE job_id = ? AND n = ?",
            (now, outcome, _dumps(error) if error else None, job_id, n),
        )

    # ------------------------------------------------------------------ receipts

    def pending_receipts(self, limit: int = 100) -> list[Job]:
        return self._jobs_where(
            None, f"receipt = 0 AND status IN {FINISHED_SQL} ORDER BY finished_at LIMIT ?", (limit,)
        )

    def write_receipt(self, job: Job) -> Path:
        """Write ``results/<job_id>.json`` or ``failed/<job_id>.json`` atomically, then mark the row."""
        receipt = self.receipt(job)
        folder = self.results_dir if job.status == "succeeded" else self.failed_dir
        path = folder / f"{job.job_id}.json"
        write_json_atomic(path, receipt)
        with self._write() as c:
            c.execute("UPDATE jobs SET receipt = 1 WHERE job_id = ?", (job.job_id,))
        return path

    def receipt(self, job: Job) -> dict[str, Any]:
        rows = self._read("SELECT * FROM attempts WHERE job_id = ? ORDER BY n", (job.job_id,))
        found = self.find_request(job.request_id)
        info = found[2] if found else {}
        result = job.result or {}
        runs = [
            {
                "n": r["n"], "owner": r["owner"], "started_at": iso(r["started_at"]), "ended_at": iso(r["ended_at"]),
                "elapsed_s": None if r["ended_at"] is None else round(r["ended_at"] - r["started_at"], 3),
                "outcome": r["outcome"], "error": json.loads(r["error"]) if r["error"] else None,
            }
            for r in rows
        ]  # fmt: skip
        return {
            "receipt_version": 1,
            "job_id": job.job_id,
            "request_id": job.request_id,
            "index": job.index,
            "status": job.status,
            "request": {
                **job.spec.get("request", {}),
                "lint": job.spec.get("lint", {}),
                "target": job.target,
                "out_dir": info.get("out_dir"),
                "prefix": info.get("prefix"),
            },
            "outputs": result.get("images", []),
            "provider": {
                "name": result.get("provider"),
                "model": result.get("model"),
                "generation_id": result.get("generation_id"),
                "cost_usd": job.cost_usd,
                "recovered": result.get("recovered", False),
            },
            "timings": {
                "created_at": iso(job.created_at),
                "started_at": iso(job.started_at),
                "finished_at": iso(job.finished_at),
                "queued_s": _span(job.created_at, job.started_at),
                "run_s": _span(job.started_at, job.finished_at),
                "total_s": _span(job.created_at, job.finished_at),
            },
            "attempts": job.attempts,
            "attempt_log": runs,
            "error": job.error,
        }

    # ------------------------------------------------------------------ queries

    def get(self, job_ids: Sequence[str]) -> list[Job]:
        with self._lock:
            return self._jobs_in(self._require(), list(job_ids))

    def for_request(self, request_id: str) -> list[Job]:
        return self._jobs_where(None, "request_id = ? ORDER BY idx", (request_id,))

    def recent(self, limit: int) -> list[Job]:
        """The ``limit`` most recently enqueued jobs, oldest first."""
        return self._jobs_where(
            None, "rowid IN (SELECT rowid FROM jobs ORDER BY rowid DESC LIMIT ?) ORDER BY rowid", (limit,)
        )

    def totals(self) -> dict[str, Any]:
        """Jobs per status and cost so far, over the whole queue."""
        out: dict[str, Any] = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
        cost = 0.0
        for r in self._read("SELECT status, COUNT(*) AS n, TOTAL(cost_usd) AS cost FROM jobs GROUP BY status"):
            out[r["status"]] = r["n"]
            cost += r["cost"]
        out["cost_usd"] = round(cost, 6)
        return out

    def pending(self) -> tuple[int, float | None]:
        """Queued jobs, and when the earliest becomes due (None when there are none)."""
        row = self._read("SELECT COUNT(*) AS n, MIN(not_before) AS due FROM jobs WHERE status = 'queued'")[0]
        return int(row["n"]), row["due"]

    def unfinished_ids(self, job_ids: Sequence[str]) -> set[str]:
        """Which of ``job_ids`` are not finished yet (``queued`` or ``running``)."""
        return {k for k, done in self.finished_map(job_ids).items() if not done}

    def finished_map(self, job_ids: Sequence[str]) -> dict[str, bool]:
        """``{job_id: finished}`` for the ids this queue knows."""
        if not job_ids:
            return {}
        marks = ",".join("?" * len(job_ids))
        rows = self._read(f"SELECT job_id, status FROM jobs WHERE job_id IN ({marks})", list(job_ids))
        return {r["job_id"]: r["status"] in ("succeeded", "failed", "cancelled") for r in rows}

    def _jobs_in(self, c: sqlite3.Connection, ids: list[str]) -> list[Job]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        by_id = {j.job_id: j for j in self._jobs_where(c, f"job_id IN ({marks})", ids)}
        return [by_id[i] for i in ids if i in by_id]

    def _jobs_where(self, c: sqlite3.Connection | None, where: str, params: Sequence[Any]) -> list[Job]:
        sql = f"SELECT * FROM jobs WHERE {where}"
        rows = c.execute(sql, params).fetchall() if c is not None else self._read(sql, params)
        return [Job.from_row(r) for r in rows]


_FIX_DIR = "check that IMAGEGEN_QUEUE_DIR is a writable local directory (run the preflight tool)"


def request_id_conflict(request_id: str) -> RequestError:
    return RequestError(
        f"request_id {request_id!r} was already used with a different payload",
        "reuse a request_id only to retry the exact same call; pass a new request_id for a new request",
        code="request_id_conflict",
    )


def _span(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 3)


def _run_script(c: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one inside the open transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            c.execute(statement)


def write_json_atomic(path: Path, data: Any) -> None:
    """tmp → fsync → rename, so a reader (or a crash) never sees half a file under ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not write {path}: {exc.strerror or exc}", _FIX_DIR) from exc
    finally:
        tmp.unlink(missing_ok=True)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (a no-op where directories cannot be opened, as on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
