"""The queue's logic in SQL, written once for both stores (SQLite and PostgreSQL).

:class:`SqlJobStore` holds every state change of a job (enqueue, claim, reclaim, heartbeat,
release, succeed, fail, cancel) and every query, in SQL both engines read the same way: ``?``
placeholders (the PostgreSQL store turns them into ``%s``), ``ON CONFLICT`` upserts, ``COALESCE``.
A subclass supplies what differs, and only that:

- the connection and its transactions (:meth:`_write`, :meth:`_read`) and the translation of the
  engine's errors at that one boundary;
- a few fragments: the row's stable id (``rowid`` / ``seq``), the due-jobs query (PostgreSQL adds
  ``FOR UPDATE SKIP LOCKED``), which running jobs a claim looks at for reclaim;
- :meth:`_changed`: how other processes hear that jobs changed (PostgreSQL: ``NOTIFY`` in the same
  transaction; SQLite: nothing, its readers poll).

The rules themselves (leases fenced by owner and attempt, lost runs counted apart from attempts,
exactly one receipt per finished job, damaged rows quarantined, never raised) are described in
:mod:`imagegen_mcp.queue.sqlite` and hold for both stores.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from imagegen_mcp.errors import RequestError, StorageError
from imagegen_mcp.queue.jobs import Job, NewJob, new_id, owner_alive
from imagegen_mcp.queue.receipts import build_receipt, sweep_temp_files, write_json_atomic
from imagegen_mcp.queue.rows import corrupt_error, decode_job, is_quarantined, loads
from imagegen_mcp.queue.schema import FINISHED_SQL, MAX_LOST_LEASES

log = logging.getLogger("imagegen_mcp.queue")

DEFAULT_MAX_ATTEMPTS = 5

WORKER_LOST = {
    "code": "worker_lost",
    "error_class": "WorkerLost",
    "message": "the worker running this job stopped (killed, crashed or lost its lease) before it finished",
}

CANCELLED = {
    "code": "cancelled",
    "error_class": "Cancelled",
    "message": "the job was cancelled (cancel_jobs) before it finished",
    "fix": "nothing to do; enqueue it again with a new request_id if you still want it",
}

# Add a cost to what a job was billed so far; NULL stays NULL until something is billed.
# (Typed, so that PostgreSQL knows what a NULL parameter is; SQLite reads it as REAL.)
_ADD_COST = "CASE WHEN CAST(? AS DOUBLE PRECISION) IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + ? END"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def request_id_conflict(request_id: str) -> RequestError:
    return RequestError(
        f"request_id {request_id!r} was already used with a different payload",
        "reuse a request_id only to retry the exact same call; pass a new request_id for a new request",
        code="request_id_conflict",
    )


# A database cursor as both drivers give it (sqlite3's, and the PostgreSQL store's adapter).
Conn = Any


class SqlJobStore:
    """Everything but the connection. Thread-safe through the subclass's lock."""

    # The row's stable id (a quarantine updates by it: a damaged job_id cannot name its row).
    ROWID = "rowid"
    # Whether job changes reach other processes at once (NOTIFY); SQLite's readers poll instead.
    broadcasts = False

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

    # ------------------------------------------------------------------ what a subclass supplies

    def _write(self) -> AbstractContextManager[Conn]:
        """One transaction: committed on success, rolled back on any error (errors translated)."""
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _due_sql(self) -> str:
        """Due ``queued`` jobs, oldest first, ``LIMIT ?`` (params: now, limit)."""
        raise NotImplementedError

    def _running_sql(self, now: float) -> tuple[str, Sequence[Any]]:
        """The ``running`` jobs a claim considers for reclaim, and the query's parameters."""
        return f"SELECT {self._columns()} FROM jobs WHERE status = 'running'", ()

    def _pending_sql(self) -> str:
        return "SELECT COUNT(*) AS n, MIN(not_before) AS due FROM jobs WHERE status = 'queued'"

    def _out_dirs_sql(self) -> str:
        raise NotImplementedError

    def _changed(self, c: Conn, kind: str, job_ids: Sequence[str]) -> None:
        """Tell other processes that ``job_ids`` changed (``kind``: queued, finished, cancel)."""

    def listen(self, on_notice: Callable[[str, list[str]], None], stop: threading.Event) -> None:
        """Changes other processes make are not announced here (readers poll): return at once."""

    def _columns(self) -> str:
        return f"{self.ROWID} AS _rowid, *"

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
        """Insert a request and its jobs; ``(jobs, False)`` if the same request was already enqueued
        (also when another process enqueued it a moment ago: the insert is the arbiter)."""
        now = self.clock()
        with self._write() as c:
            if not self._existing_request(c, request_id, payload_sha):
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
            inserted = c.execute(
                "INSERT INTO requests (request_id, payload_sha, payload, info, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (request_id) DO NOTHING",
                (request_id, payload_sha, dumps(payload), dumps(info), now),
            )
            if inserted.rowcount == 0:  # another process won the race for this request_id
                self._existing_request(c, request_id, payload_sha)
                return self._jobs_where(c, "request_id = ? ORDER BY idx", (request_id,)), False
            for job in jobs:
                c.execute(
                    "INSERT INTO jobs (job_id, request_id, idx, status, spec, target, max_attempts, not_before,"
                    " created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                    (new_id("j"), request_id, job.index, dumps(job.spec), job.target, max_attempts, now, now),
                )
            created = self._jobs_where(c, "request_id = ? ORDER BY idx", (request_id,))
            self._changed(c, "queued", [j.job_id for j in created])
            return created, True

    @staticmethod
    def _existing_request(c: Conn, request_id: str, payload_sha: str) -> bool:
        """True when ``request_id`` is new; False when it holds this payload; a conflict otherwise."""
        row = c.execute("SELECT payload_sha FROM requests WHERE request_id = ?", (request_id,)).fetchone()
        if row is None:
            return True
        if row["payload_sha"] != payload_sha:
            raise request_id_conflict(request_id)
        return False

    # ------------------------------------------------------------------ leases

    def claim(self, owner: str, limit: int) -> list[Job]:
        """Reclaim orphans, then lease up to ``limit`` due jobs to ``owner`` (one transaction)."""
        if limit <= 0:
            return []
        now = self.clock()
        with self._write() as c:
            self._reclaim(c, now)
            candidates = self._decode(c, c.execute(self._due_sql(), (now, limit)).fetchall())
            ids = [j.job_id for j in candidates if j.status == "queued"]
            for job_id in ids:
                c.execute(
                    "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires = ?,"
                    " attempts = attempts + 1, started_at = COALESCE(started_at, ?) WHERE job_id = ?",
                    (owner, now + self.orphan_timeout_s, now, job_id),
                )
                c.execute(
                    "INSERT INTO attempts (job_id, n, owner, started_at)"
                    " SELECT job_id, attempts, ?, ? FROM jobs WHERE job_id = ?"
                    " ON CONFLICT (job_id, n) DO UPDATE SET owner = excluded.owner, started_at = excluded.started_at,"
                    " ended_at = NULL, outcome = NULL, error = NULL",
                    (owner, now, job_id),
                )
            if ids:
                self._changed(c, "started", ids)
            return self._jobs_in(c, ids)

    def _reclaim(self, c: Conn, now: float) -> None:
        """Take back leases of dead owners and expired leases. A lost run counts against
        ``MAX_LOST_LEASES``, not against ``max_attempts``: a kill says nothing about the job."""
        sql, params = self._running_sql(now)
        running = self._decode(c, c.execute(sql, params).fetchall())
        alive: dict[str, bool] = {}
        reclaimed: list[str] = []
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
            if job.cancel_requested:  # its worker died while stopping it: it ends as asked
                self._end_cancelled(c, job, now)
                reclaimed.append(job.job_id)
                continue
            if lost >= MAX_LOST_LEASES:
                error["fix"] = (
                    f"its worker stopped {lost} times while running it (the cap is {MAX_LOST_LEASES}); check the "
                    "worker's log (memory, kills), then enqueue again with a new request_id"
                )
                c.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?, lost_leases = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (dumps(error), dumps(error), now, lost, job.job_id),
                )
            else:
                error["fix"] = "nothing to do: the job was queued again and will be retried"
                c.execute(
                    "UPDATE jobs SET status = 'queued', not_before = ?, last_error = ?, lost_leases = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (now, dumps(error), lost, job.job_id),
                )
            self._end_attempt(c, job.job_id, job.attempts, now, "lost", error)
            reclaimed.append(job.job_id)
        if reclaimed:
            self._changed(c, "queued", reclaimed)

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
            if self._cancel_asked(c, job.job_id):  # stopped for cancel_jobs, not for a restart
                self._end_cancelled(c, job, now)
                self._changed(c, "finished", [job.job_id])
                return True
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
            self._changed(c, "queued", [job.job_id])
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
                (dumps(result), cost_usd, cost_usd, now, job.job_id),
            )
            self._end_attempt(c, job.job_id, job.attempts, now, "succeeded", None)
            self._changed(c, "finished", [job.job_id])
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
                    (retry_at, dumps(error), job.job_id),
                )
                outcome = "retry"
            else:
                c.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?,"
                    " lease_owner = NULL, lease_expires = NULL WHERE job_id = ?",
                    (dumps(error), dumps(error), now, job.job_id),
                )
                outcome = "failed"
            self._end_attempt(c, job.job_id, job.attempts, now, outcome, error)
            self._changed(c, "finished" if outcome == "failed" else "queued", [job.job_id])
            return self._jobs_in(c, [job.job_id])[0]

    # ------------------------------------------------------------------ cancel

    def cancel(self, job_ids: Sequence[str]) -> list[Job]:
        """``cancel_jobs``: queued jobs end ``cancelled`` now; running ones are asked to stop (the
        worker holding each, in whichever process, stops its run and records it ``cancelled``);
        finished ones stay as they are. The jobs as they are after the call, in the order given."""
        now = self.clock()
        ended: list[str] = []
        stopping: list[str] = []
        with self._write() as c:
            for job_id in dict.fromkeys(job_ids):
                cur = c.execute(
                    "UPDATE jobs SET status = 'cancelled', error = ?, finished_at = ?, lease_owner = NULL,"
                    " lease_expires = NULL WHERE job_id = ? AND status = 'queued'",
                    (dumps(CANCELLED), now, job_id),
                )
                if cur.rowcount:
                    ended.append(job_id)
                    continue
                cur = c.execute(
                    "UPDATE jobs SET cancel_requested = 1 WHERE job_id = ? AND status = 'running'", (job_id,)
                )
                if cur.rowcount:
                    stopping.append(job_id)
            self._changed(c, "finished", ended)
            self._changed(c, "cancel", stopping)
            return self._jobs_in(c, list(dict.fromkeys(job_ids)))

    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        """Which of ``job_ids`` (running here) ``cancel_jobs`` asked to stop."""
        if not job_ids:
            return set()
        marks = ",".join("?" * len(job_ids))
        rows = self._read(
            f"SELECT job_id FROM jobs WHERE job_id IN ({marks}) AND status = 'running' AND cancel_requested = 1",
            list(job_ids),
        )
        return {r["job_id"] for r in rows}

    def finish_cancelled(self, job: Job) -> Job | None:
        """The worker stopped ``job``'s run for ``cancel_jobs``: record it ``cancelled`` (None if the
        lease was lost meanwhile)."""
        now = self.clock()
        with self._write() as c:
            if self._held(c, job) is None:
                return None
            self._end_cancelled(c, job, now)
            self._changed(c, "finished", [job.job_id])
            return self._jobs_in(c, [job.job_id])[0]

    def _end_cancelled(self, c: Conn, job: Job, now: float) -> None:
        c.execute(
            "UPDATE jobs SET status = 'cancelled', error = ?, finished_at = ?, lease_owner = NULL,"
            " lease_expires = NULL WHERE job_id = ?",
            (dumps(CANCELLED), now, job.job_id),
        )
        self._end_attempt(c, job.job_id, job.attempts, now, "cancelled", CANCELLED)

    @staticmethod
    def _cancel_asked(c: Conn, job_id: str) -> bool:
        row = c.execute("SELECT cancel_requested FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return bool(row is not None and row["cancel_requested"])

    @staticmethod
    def _held(c: Conn, job: Job) -> int | None:
        """``max_attempts`` when ``job``'s lease (owner and attempt) is still current, else None."""
        row = c.execute(
            "SELECT max_attempts FROM jobs"
            " WHERE job_id = ? AND lease_owner = ? AND attempts = ? AND status = 'running'",
            (job.job_id, job.lease_owner, job.attempts),
        ).fetchone()
        return None if row is None else int(row["max_attempts"])

    @staticmethod
    def _end_attempt(c: Conn, job_id: str, n: int, now: float, outcome: str, error: dict[str, Any] | None) -> None:
        c.execute(
            "UPDATE attempts SET ended_at = ?, outcome = ?, error = ? WHERE job_id = ? AND n = ?",
            (now, outcome, dumps(error) if error else None, job_id, n),
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
        attempts = [
            dict(r)
            for r in self._read(
                "SELECT job_id, n, owner, started_at, ended_at, outcome, error FROM attempts WHERE job_id = ?"
                " ORDER BY n",
                (job.job_id,),
            )
        ]
        return build_receipt(job, attempts, info if isinstance(info, dict) else {})

    def output_dirs(self) -> list[Path]:
        """The output folders requests were enqueued into (where their manifests live)."""
        rows = self._read(self._out_dirs_sql())
        return [Path(r["d"]) for r in rows if isinstance(r["d"], str) and r["d"]]

    # ------------------------------------------------------------------ queries

    def get(self, job_ids: Sequence[str]) -> list[Job]:
        return self._jobs_in(None, list(job_ids))

    def for_request(self, request_id: str) -> list[Job]:
        return self._jobs_where(None, "request_id = ? ORDER BY idx", (request_id,))

    def recent(self, limit: int) -> list[Job]:
        """The ``limit`` most recently enqueued jobs, oldest first."""
        r = self.ROWID
        return self._jobs_where(None, f"{r} IN (SELECT {r} FROM jobs ORDER BY {r} DESC LIMIT ?) ORDER BY {r}", (limit,))

    def totals(self) -> dict[str, Any]:
        """Jobs per status and cost so far, over the whole queue."""
        out: dict[str, Any] = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
        cost = 0.0
        sql = "SELECT status, COUNT(*) AS n, COALESCE(SUM(cost_usd), 0) AS cost FROM jobs GROUP BY status"
        for r in self._read(sql):
            out[r["status"]] = int(r["n"])
            cost += float(r["cost"])
        out["cost_usd"] = round(cost, 8)
        return out

    def pending(self) -> tuple[int, float | None]:
        """Queued jobs, and when the earliest becomes due (None when there are none)."""
        row = self._read(self._pending_sql())[0]
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

    def _jobs_in(self, c: Conn | None, ids: list[str]) -> list[Job]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        by_id = {j.job_id: j for j in self._jobs_where(c, f"job_id IN ({marks})", ids)}
        return [by_id[i] for i in ids if i in by_id]

    def _jobs_where(self, c: Conn | None, where: str, params: Sequence[Any]) -> list[Job]:
        sql = f"SELECT {self._columns()} FROM jobs WHERE {where}"
        rows = c.execute(sql, params).fetchall() if c is not None else self._read(sql, params)
        return self._decode(c, rows)

    def _decode(self, c: Conn | None, rows: list[Any]) -> list[Job]:
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

    def _quarantine(self, c: Conn | None, rowid: int, job: Job, problem: str) -> Job:
        now = self.clock()
        error = corrupt_error(job.job_id or f"row {rowid}", problem)
        log.error("quarantined a damaged job record: %s", error["message"])

        def mark(w: Conn) -> None:
            w.execute(
                "UPDATE jobs SET status = 'failed', error = ?, last_error = ?, finished_at = ?,"
                f" lease_owner = NULL, lease_expires = NULL WHERE {self.ROWID} = ?",
                (dumps(error), dumps(error), now, rowid),
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


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
