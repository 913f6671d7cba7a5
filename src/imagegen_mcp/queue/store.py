"""The job store protocol, and the one place that picks its implementation.

Two stores keep the queue: SQLite in ``IMAGEGEN_QUEUE_DIR`` (the default; one machine) and
PostgreSQL when ``IMAGEGEN_QUEUE_URL=postgresql://…`` (the team shape: several replicas). The
worker, the tools, the CLI and the pipeline speak only :class:`JobStore`; both implementations share
their SQL and rules (:class:`imagegen_mcp.queue.sqlstore.SqlJobStore`), so their semantics are the
same: idempotent ``request_id``, leases with heartbeat, reclaim of expired leases only (plus dead
processes on this host), attempts cap, cost per job, cancellation, exactly one receipt per job.

psycopg is imported only when :func:`make_store` builds a PostgreSQL store (start-up in the default
shape never imports it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from imagegen_mcp.queue.jobs import Job, NewJob

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.queue.health import Health


class JobStore(Protocol):
    """What the worker, the tools and the CLI use of a queue."""

    orphan_timeout_s: float
    clock: Callable[[], float]
    broadcasts: bool  # True when changes made by other processes are announced (listen)

    def open(self) -> JobStore: ...
    def close(self) -> None: ...

    # enqueue
    def find_request(self, request_id: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None: ...
    def enqueue(
        self,
        request_id: str,
        payload_sha: str,
        payload: dict[str, Any],
        info: dict[str, Any],
        jobs: list[NewJob],
        *,
        max_attempts: int = ...,
        check_targets: bool = ...,
    ) -> tuple[list[Job], bool]: ...

    # leases and outcomes
    def claim(self, owner: str, limit: int) -> list[Job]: ...
    def heartbeat(self, jobs: Sequence[Job]) -> set[str]: ...
    def release(self, job: Job, *, started: bool) -> bool: ...
    def succeed(self, job: Job, result: dict[str, Any], cost_usd: float | None) -> Job | None: ...
    def fail(
        self,
        job: Job,
        error: dict[str, Any],
        *,
        retry_at: float | None = ...,
        cost_usd: float | None = ...,
        storage_only: bool = ...,
    ) -> Job | None: ...

    # cancel_jobs
    def cancel(self, job_ids: Sequence[str]) -> list[Job]: ...
    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]: ...
    def finish_cancelled(self, job: Job) -> Job | None: ...

    # receipts and housekeeping
    def pending_receipts(self, limit: int = ...) -> list[Job]: ...
    def write_receipt(self, job: Job) -> Path: ...
    def receipt(self, job: Job) -> dict[str, Any]: ...
    def sweep_temp_files(self, min_age_s: float = ...) -> int: ...
    def output_dirs(self) -> list[Path]: ...

    # queries
    def get(self, job_ids: Sequence[str]) -> list[Job]: ...
    def for_request(self, request_id: str) -> list[Job]: ...
    def recent(self, limit: int) -> list[Job]: ...
    def totals(self) -> dict[str, Any]: ...
    def pending(self) -> tuple[int, float | None]: ...
    def unfinished_ids(self, job_ids: Sequence[str]) -> set[str]: ...
    def finished_map(self, job_ids: Sequence[str]) -> dict[str, bool]: ...

    # notifications (PostgreSQL; SQLite returns at once: its readers poll)
    def listen(self, on_notice: Callable[[str, list[str]], None], stop: threading.Event) -> None: ...


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("postgresql://", "postgres://"))


def make_store(settings: Settings) -> JobStore:
    """The store ``settings`` name, not opened yet (``open()`` connects, creates and migrates)."""
    if is_postgres(settings.queue_url):
        from imagegen_mcp.queue.postgres import PostgresJobQueue

        assert settings.queue_url is not None
        return PostgresJobQueue(settings.queue_url, settings.queue_dir, orphan_timeout_s=settings.orphan_timeout_s)
    from imagegen_mcp.queue.sqlite import JobQueue

    return JobQueue(settings.queue_dir, orphan_timeout_s=settings.orphan_timeout_s)


def make_health(settings: Settings) -> Health:
    """Provider cool-downs where every process of this shape sees them (see :mod:`.health`)."""
    if is_postgres(settings.queue_url):
        from imagegen_mcp.queue.postgres import PostgresHealth

        assert settings.queue_url is not None
        return PostgresHealth(settings.queue_url, settings.cooldown_s)
    from imagegen_mcp.queue.health import Health

    return Health(settings.queue_dir, settings.cooldown_s)


def check_database(settings: Settings) -> tuple[bool, str, str | None] | None:
    """Preflight of the team shape's database (reachable, schema version); None for SQLite, whose
    folder the ``queue_dir`` check covers."""
    if not is_postgres(settings.queue_url):
        return None
    from imagegen_mcp.queue.postgres import check

    assert settings.queue_url is not None
    return check(settings.queue_url)


def store_exists(settings: Settings) -> bool:
    """Whether a queue is there to be opened: a PostgreSQL one always is (it is created on open);
    a SQLite one once its file exists (the worker never creates it)."""
    if is_postgres(settings.queue_url):
        return True
    from imagegen_mcp.queue.sqlite import DB_NAME

    return (settings.queue_dir / DB_NAME).exists()
