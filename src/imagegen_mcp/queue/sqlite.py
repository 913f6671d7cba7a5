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

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from imagegen_mcp.errors import RequestError, StorageError
from imagegen_mcp.queue import dbhealth
from imagegen_mcp.queue.jobs import Job, NewJob, make_owner, new_id, owner_alive
from imagegen_mcp.queue.receipts import build_receipt, iso, sweep_temp_files, write_json_atomic
from imagegen_mcp.queue.rows import corrupt_error, decode_job, is_quarantined, loads
from imagegen_mcp.queue.schema import FINISHED_SQL, MAX_LOST_LEASES, MIGRATIONS, SCHEMA_VERSION, run_script
from imagegen_mcp.storage.local import fsync_dir

__all__ = [
    "MAX_LOST_LEASES", "SCHEMA_VERSION", "Job", "JobQueue", "NewJob", "fsync_dir", "iso", "make_owner", "new_id",
    "owner_alive", "request_id_conflict", "write_json_atomic",
]  # fmt: skip

log = logging.getLogger("imagegen_mcp.queue")

DB_NAME = "queue.sqlite3"
DEFAULT_MAX_ATTEMPTS = 5


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

    # ------------------------------------------------------------------ enqueue

    def find_request(self, request_id: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """``(payload_sha, payload, info)`` of a stored request, or None."""
        rows = self._read("SELECT payload_sha, payload, info FROM requests WHERE request_id = ?", (request_id,))
        if not rows:
            return None
        sha, payload, info = rows[0]["payload_sha"], loads(rows[0]["payload"]), loads(rows[0]["info"])
        if not (isinstance(sha, str) and isinstance(payload, dict) and isinstance(info, dict)):
            raise StorageError(
                f"the queue's record of request {request_id!r} is damaged (it does not parse)",
                "pass a new request_id to enqueue it again",
                code="request_corrupt",
            )
        return sha, payload, info

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
            # A damaged row (not_before stored as text) is picked too, so that it is quarantined below
            # instead of sitting in front of the queue forever.
            candidates = self._decode(
                c,
                c.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE status = 'queued'"
                    " AND (not_before <= ? OR typeof(not_before) NOT IN ('integer', 'real'))"
                    " ORDER BY not_before, rowid LIMIT ?",
                    (now, limit),
                ).fetchall(),
            )
            ids = [j.job_id for j in candidates if j.status == "queued"]
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
        """Take back leases of dead owners and expired leases. A lost run counts against
        ``MAX_LOST_LEASES``, not against ``max_attempts``: a kill says nothing about the job."""
        running = self._decode(c, c.execute(f"SELECT {_COLUMNS} FROM jobs WHERE status = 'running'").fetchall())
        alive: dict[str, bool] = {}
        for job in running:
            if job.status != "running":
                continue  # quarantined just now
            owner = job.lease_owner or ""
            expired = job.lease_expires is None or job.lease_expires < now
            if not expired:
                if owner not in alive:
                    alive[owner] = self.is_alive(owner)
                if alive[owner]:
                    continue
            error = dict(WORKER_LOST)
            lost = job.lost_leases + 1
            if lost >= MAX_LOST_LEASES:
                error["fix"] = (
                    f"its worker stopped {lost} times while running it (the cap is {MAX_LOST_LEASES}); check the "
                    "worker's log (memory, kills), then enqueue again with a new request_id"
                )
                c.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?, lost_leases = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (_dumps(error), _dumps(error), now, lost, job.job_id),
                )
            else:
                error["fix"] = "nothing to do: the job was queued again and will be retried"
                c.execute(
                    "UPDATE jobs SET status = 'queued', not_before = ?, last_error = ?, lost_leases = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (now, _dumps(error), lost, job.job_id),
                )
            self._end_attempt(c, job.job_id, job.attempts, now, "lost", error)

    # A lease is fenced by (owner, attempt): every claim counts an attempt, so a worker that lost its
    # lease (and even the same worker, had it claimed the job again) can never finish a stale run.

    def heartbeat(self, jobs: Sequence[Job]) -> set[str]:
        """Renew the leases of ``jobs`` (as claimed); return the ids still held."""
        held: set[str] = set()
        if not jobs:
            return held
        expires = self.clock() + self.orphan_timeout_s
        with self._write() as c:
            for job in jobs:
                cur = c.execute(
                    "UPDATE jobs SET lease_expires = ? WHERE job_id = ? AND lease_owner = ? AND attempts = ?"
                    " AND status = 'running'",
                    (expires, job.job_id, job.lease_owner, job.attempts),
                )
                if cur.rowcount:
                    held.add(job.job_id)
        return held

    def release(self, job: Job, *, started: bool) -> bool:
        """Give a leased job back to ``queued`` (clean shutdown); a job never started gets its attempt back,
        and an interrupted one counts as a lost lease, not as a used attempt."""
        now = self.clock()
        with self._write() as c:
            if self._held(c, job) is None:
                return False
            attempts = job.attempts if started else job.attempts - 1
            c.execute(
                "UPDATE jobs SET status = 'queued', not_before = ?, attempts = ?, lost_leases = lost_leases + ?,"
                " lease_owner = NULL, lease_expires = NULL,"
                " started_at = CASE WHEN ? = 0 THEN NULL ELSE started_at END WHERE job_id = ?",
                (now, attempts, 1 if started else 0, attempts, job.job_id),
            )
            if started:
                self._end_attempt(c, job.job_id, job.attempts, now, "interrupted", None)
            else:
                c.execute("DELETE FROM attempts WHERE job_id = ? AND n = ?", (job.job_id, job.attempts))
            return True

    # ------------------------------------------------------------------ finish

    def succeed(self, job: Job, result: dict[str, Any], cost_usd: float | None) -> Job | None:
        """Mark a leased job ``succeeded``; None if its lease was lost. ``cost_usd`` adds to what
        earlier attempts were billed."""
        now = self.clock()
        with self._write() as c:
            if self._held(c, job) is None:
                return None
            c.execute(
                f"UPDATE jobs SET status = 'succeeded', result = ?, cost_usd = {_ADD_COST}, finished_at = ?,"
                " error = NULL, lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                (_dumps(result), cost_usd, cost_usd, now, job.job_id),
            )
            self._end_attempt(c, job.job_id, job.attempts, now, "succeeded", None)
            return self._jobs_in(c, [job.job_id])[0]

    def fail(
        self,
        job: Job,
        error: dict[str, Any],
        *,
        retry_at: float | None = None,
        cost_usd: float | None = None,
        storage_only: bool = False,
    ) -> Job | None:
        """A failed attempt: queued again at ``retry_at`` while attempts remain, else ``failed``.
        ``cost_usd`` is what the failed attempt was billed, if anything (a refusal can be).
        ``storage_only``: the images are paid for and only saving them failed; such a retry costs
        nothing, so it is queued whatever the attempts count."""
        now = self.clock()
        with self._write() as c:
            max_attempts = self._held(c, job)
            if max_attempts is None:
                return None
            if cost_usd is not None:
                c.execute(f"UPDATE jobs SET cost_usd = {_ADD_COST} WHERE job_id = ?", (cost_usd, cost_usd, job.job_id))
            if retry_at is not None and (storage_only or job.counted_attempts < max_attempts):
                c.execute(
                    "UPDATE jobs SET status = 'queued', not_before = ?, last_error = ?, lease_owner = NULL,"
                    " lease_expires = NULL WHERE job_id = ?",
                    (retry_at, _dumps(error), job.job_id),
                )
                outcome = "retry"
            else:
                c.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (_dumps(error), _dumps(error), now, job.job_id),
                )
                outcome = "failed"
            self._end_attempt(c, job.job_id, job.attempts, now, outcome, error)
            return self._jobs_in(c, [job.job_id])[0]

    @staticmethod
    def _held(c: sqlite3.Connection, job: Job) -> int | None:
        """``max_attempts`` when ``job``'s lease (owner and attempt) is still current, else None."""
        row = c.execute(
            "SELECT max_attempts FROM jobs"
            " WHERE job_id = ? AND lease_owner = ? AND attempts = ? AND status = 'running'",
            (job.job_id, job.lease_owner, job.attempts),
        ).fetchone()
        return None if row is None else int(row["max_attempts"])

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
        folder = self.results_dir if job.status == "succeeded" else self.failed_dir
        path = folder / f"{job.job_id}.json"
        write_json_atomic(path, self.receipt(job))
        with self._write() as c:
            c.execute("UPDATE jobs SET receipt = 1 WHERE job_id = ?", (job.job_id,))
        return path

    def sweep_temp_files(self, min_age_s: float = 600.0) -> int:
        """Delete receipt temp files a killed writer left behind (old enough that no writer owns them)."""
        return sweep_temp_files((self.results_dir, self.failed_dir), min_age_s)

    def receipt(self, job: Job) -> dict[str, Any]:
        """A finished job's receipt; a damaged request record only leaves its out_dir and prefix out."""
        rows = self._read("SELECT info FROM requests WHERE request_id = ?", (job.request_id,))
        info = loads(rows[0]["info"], {}) if rows else {}
        attempts = [dict(r) for r in self._read("SELECT * FROM attempts WHERE job_id = ? ORDER BY n", (job.job_id,))]
        return build_receipt(job, attempts, info if isinstance(info, dict) else {})

    def output_dirs(self) -> list[Path]:
        """The output folders requests were enqueued into (where their manifests live)."""
        rows = self._read(
            "SELECT DISTINCT CASE WHEN json_valid(info) THEN json_extract(info, '$.out_dir') END AS d FROM requests"
        )
        return [Path(r["d"]) for r in rows if isinstance(r["d"], str) and r["d"]]

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
        out["cost_usd"] = round(cost, 8)
        return out

    def pending(self) -> tuple[int, float | None]:
        """Queued jobs, and when the earliest becomes due (None when there are none)."""
        row = self._read(
            "SELECT COUNT(*) AS n, MIN(CASE WHEN typeof(not_before) IN ('integer', 'real') THEN not_before END)"
            " AS due FROM jobs WHERE status = 'queued'"  # a damaged time is no time: claim quarantines it
        )[0]
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
        sql = f"SELECT {_COLUMNS} FROM jobs WHERE {where}"
        rows = c.execute(sql, params).fetchall() if c is not None else self._read(sql, params)
        return self._decode(c, rows)

    def _decode(self, c: sqlite3.Connection | None, rows: list[sqlite3.Row]) -> list[Job]:
        """Decode rows; a damaged one is quarantined (in ``c``'s transaction, else in its own) and
        returned as the failed job it now is. Decoding never raises: one bad row must not take the
        queue down with it."""
        jobs: list[Job] = []
        for row in rows:
            job, problem = decode_job(row)
            if problem is not None and not is_quarantined(job):
                job = self._quarantine(c, row["_rowid"], job, problem)
            jobs.append(job)
        return jobs

    def _quarantine(self, c: sqlite3.Connection | None, rowid: int, job: Job, problem: str) -> Job:
        now = self.clock()
        error = corrupt_error(job.job_id or f"row {rowid}", problem)
        log.error("quarantined a damaged job record: %s", error["message"])

        def mark(w: sqlite3.Connection) -> None:
            w.execute(
                "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?,"
                " lease_owner = NULL, lease_expires = NULL WHERE rowid = ?",
                (_dumps(error), _dumps(error), now, rowid),
            )
            w.execute(
                "UPDATE attempts SET ended_at = ?, outcome = 'corrupt' WHERE job_id = ? AND ended_at IS NULL",
                (now, job.job_id),
            )

        if c is not None:
            mark(c)
        else:
            try:
                with self._write() as w:
                    mark(w)
            except StorageError as exc:  # a read-only queue still answers, with the row shown as failed
                log.warning("could not record the quarantine of %s: %s", job.job_id, exc)
        job.status, job.error, job.last_error = "failed", error, error
        job.finished_at, job.lease_owner, job.lease_expires = now, None, None
        return job


# rowid names a row even when its job_id is damaged (a quarantine updates by rowid).
_COLUMNS = "rowid AS _rowid, *"

# Add a cost to what a job was billed so far; NULL stays NULL until something is billed.
_ADD_COST = "CASE WHEN ? IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + ? END"

_FIX_DIR = "check that IMAGEGEN_QUEUE_DIR is a writable local directory (run the preflight tool)"


def request_id_conflict(request_id: str) -> RequestError:
    return RequestError(
        f"request_id {request_id!r} was already used with a different payload",
        "reuse a request_id only to retry the exact same call; pass a new request_id for a new request",
        code="request_id_conflict",
    )
