"""The job queue in PostgreSQL (``IMAGEGEN_QUEUE_URL=postgresql://…``): the team shape.

The same queue as :mod:`imagegen_mcp.queue.sqlite` — every rule is in
:class:`~imagegen_mcp.queue.sqlstore.SqlJobStore`, shared — on a database several replicas use at
once:

- **claims** take due rows with ``FOR UPDATE SKIP LOCKED``: replicas claiming together never wait on
  each other and never get the same job;
- **reclaim** looks only at leases that expired, and at leases of processes on this host (the PID
  shortcut applies only where the PID can be checked: a replica on another host is trusted until
  its lease expires; two containers must not share a host name);
- **NOTIFY** on channel ``imagegen_jobs`` in the transaction that changes a job (delivered on
  commit): ``queued:<ids>``, ``finished:<ids>``, ``cancel:<ids>``. Every replica LISTENs
  (:meth:`PostgresJobQueue.listen`) and wakes its worker, its ``queue_status wait_s`` long-polls and
  its ``resources/updated`` subscribers;
- the schema (:mod:`imagegen_mcp.queue.pgschema`) is migrated on start under an advisory lock.

psycopg (3) is imported only here, so only in this mode (install the ``team`` extra). One connection
per store, serialised by a lock, reconnected after a failure; the listener has its own. Receipts are
written to ``IMAGEGEN_QUEUE_DIR`` as with SQLite (the storage backend decides where they finally live).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row

from imagegen_mcp.errors import StorageError
from imagegen_mcp.queue.health import Health, HealthState, after_failure
from imagegen_mcp.queue.jobs import owner_alive
from imagegen_mcp.queue.pgschema import MIGRATION_LOCK, PG_MIGRATIONS, PG_SCHEMA, PG_SCHEMA_VERSION
from imagegen_mcp.queue.sqlstore import SqlJobStore, chunks

log = logging.getLogger("imagegen_mcp.queue")

CHANNEL = "imagegen_jobs"
UNREACHABLE = "queue_unreachable"
FAILED = "queue_failed"
CONNECT_TIMEOUT_S = 10
_IDS_PER_NOTICE = 300  # NOTIFY payloads stay under PostgreSQL's 8000-byte limit


def safe_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(url: str) -> psycopg.Connection[dict[str, Any]]:
    """An autocommit connection whose unqualified names are the queue's schema."""
    return psycopg.connect(
        url,
        autocommit=True,
        row_factory=dict_row,
        connect_timeout=CONNECT_TIMEOUT_S,
        options=f"-c search_path={PG_SCHEMA}",
        application_name="imagegen-mcp",
    )


def translate(exc: psycopg.Error, url: str) -> StorageError:
    """The one boundary from psycopg errors to the project's, with the fix."""
    where = safe_url(url)
    detail = " ".join(str(exc).split())[:300]
    if isinstance(exc, psycopg.OperationalError):
        return StorageError(
            f"the job queue database IMAGEGEN_QUEUE_URL={where} cannot be reached ({detail})",
            "check that PostgreSQL is running and that IMAGEGEN_QUEUE_URL names its host, port, user, password "
            "and database (run imagegen-mcp preflight)",
            code=UNREACHABLE,
        )
    return StorageError(
        f"the job queue database IMAGEGEN_QUEUE_URL={where} failed: {detail}",
        "run imagegen-mcp preflight; check the database's log",
        code=FAILED,
    )


class _Cursorish:
    """sqlite3's ``execute`` over a psycopg connection: ``?`` placeholders become ``%s``."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[dict[str, Any]]:
        return self.conn.execute(sql.replace("?", "%s"), list(params))


class PostgresJobQueue(SqlJobStore):
    """One PostgreSQL queue. Thread-safe; one connection per instance, serialised by a lock."""

    ROWID = "seq"
    broadcasts = True

    def __init__(
        self,
        url: str,
        queue_dir: Path,
        *,
        orphan_timeout_s: float = 1800.0,
        clock: Callable[[], float] = time.time,
        is_alive: Callable[[str], bool] = owner_alive,
    ) -> None:
        super().__init__(queue_dir, orphan_timeout_s=orphan_timeout_s, clock=clock, is_alive=is_alive)
        self.url = url
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._host_prefix = socket.gethostname() + "/"

    def __repr__(self) -> str:
        return f"PostgresJobQueue({safe_url(self.url)})"

    # ------------------------------------------------------------------ connection

    def open(self) -> PostgresJobQueue:
        """Connect, create the schema on first use, migrate it; refuse a database from a newer release."""
        for d in (self.dir, self.results_dir, self.failed_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the receipts folder {d}: {exc}",
                    "set IMAGEGEN_QUEUE_DIR to a writable local directory",
                ) from exc
        with self._lock:
            self._require()
        return self

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def schema_version(self) -> int:
        """The version recorded in the database (0 when the schema was never created)."""
        rows = self._read(
            "SELECT (SELECT version FROM schema_version LIMIT 1) AS v"
            " WHERE to_regclass(? || '.schema_version') IS NOT NULL",
            (PG_SCHEMA,),
        )
        return int(rows[0]["v"] or 0) if rows else 0

    def _require(self) -> psycopg.Connection[dict[str, Any]]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self.close()
        try:
            conn = connect(self.url)
        except psycopg.Error as exc:
            raise translate(exc, self.url) from None
        try:
            migrate(conn, self.url)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[_Cursorish]:
        with self._lock:
            conn = self._require()
            try:
                with conn.transaction():
                    yield _Cursorish(conn)
            except psycopg.Error as exc:
                raise self._failure(exc) from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            conn = self._require()
            try:
                return _Cursorish(conn).execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise self._failure(exc) from None

    def _failure(self, exc: psycopg.Error) -> StorageError:
        if isinstance(exc, psycopg.OperationalError) or (self._conn is not None and self._conn.broken):
            self.close()  # reconnect on next use
        return translate(exc, self.url)

    # ------------------------------------------------------------------ PostgreSQL's fragments

    def _due_sql(self) -> str:
        return (
            f"SELECT {self._columns()} FROM jobs WHERE status = 'queued' AND not_before <= ?"
            " ORDER BY not_before, seq LIMIT ? FOR UPDATE SKIP LOCKED"
        )

    def _running_sql(self, now: float) -> tuple[str, Sequence[Any]]:
        # Only leases that expired, or whose owner runs on this host (the PID check applies): the
        # live leases of other replicas are neither read nor locked.
        prefix = self._host_prefix
        return (
            f"SELECT {self._columns()} FROM jobs WHERE status = 'running'"
            " AND (lease_expires IS NULL OR lease_expires < ? OR substr(lease_owner, 1, ?) = ?)"
            " FOR UPDATE SKIP LOCKED",
            (now, len(prefix), prefix),
        )

    def _out_dirs_sql(self) -> str:
        # info is always written as a JSON object by this code (text in PostgreSQL does not rot the way a
        # hand-edited SQLite file can), so the cast is safe.
        return "SELECT DISTINCT (info::jsonb ->> 'out_dir') AS d FROM requests"

    def _changed(self, c: Any, kind: str, job_ids: Sequence[str]) -> None:
        for part in chunks(job_ids, _IDS_PER_NOTICE):
            c.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{kind}:{','.join(part)}"))

    # ------------------------------------------------------------------ notifications

    def listen(self, on_notice: Callable[[str, list[str]], None], stop: threading.Event) -> None:
        """Block, calling ``on_notice(kind, job_ids)`` for every change any replica commits, until
        ``stop`` is set. A lost connection is reopened (with a pause); ``on_notice("reconnected", [])``
        then says that changes may have been missed meanwhile."""
        pause = 0.2
        first = True
        while not stop.is_set():
            try:
                with connect(self.url) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if not first:
                        on_notice("reconnected", [])
                    first, pause = False, 0.2
                    while not stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            kind, _, ids = notice.payload.partition(":")
                            on_notice(kind, [i for i in ids.split(",") if i])
            except psycopg.Error as exc:
                log.warning("queue notifications interrupted (%s); listening again", translate(exc, self.url))
                stop.wait(pause)
                pause = min(5.0, pause * 2)


def check(url: str) -> tuple[bool, str, str | None]:
    """Preflight: the database is reachable and its schema is this release's (read-only: nothing is
    created or migrated here). ``(ok, detail, fix)``."""
    where = safe_url(url)
    try:
        with connect(url) as conn:
            row = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS present", [f"{PG_SCHEMA}.schema_version"]
            ).fetchone()
            found = conn.execute("SELECT version FROM schema_version").fetchone() if row and row["present"] else None
    except psycopg.Error as exc:
        error = translate(exc, url)
        return False, error.message, error.fix
    version = int(found["version"]) if found else 0
    if version > PG_SCHEMA_VERSION:
        return (
            False,
            f"{where}: schema version {version} is newer than this release's ({PG_SCHEMA_VERSION})",
            ("upgrade imagegen-mcp on this replica to the release the others run"),
        )
    if version < PG_SCHEMA_VERSION:
        state = "no queue schema yet" if version == 0 else f"schema version {version}"
        return True, f"{where}: reachable; {state} (migrated to {PG_SCHEMA_VERSION} when a server starts)", None
    return True, f"{where}: reachable, schema version {version}", None


def migrate(conn: psycopg.Connection[dict[str, Any]], url: str) -> None:
    """Create or upgrade the schema in one transaction, under an advisory lock (replicas start together)."""
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = int(row["version"]) if row else 0
            if version > PG_SCHEMA_VERSION:
                raise StorageError(
                    f"the queue database has schema version {version}; this imagegen-mcp knows {PG_SCHEMA_VERSION}",
                    "upgrade imagegen-mcp on every replica, or point IMAGEGEN_QUEUE_URL at another database",
                    code="queue_too_new",
                )
            for target in range(version + 1, PG_SCHEMA_VERSION + 1):
                for statement in PG_MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", [PG_SCHEMA_VERSION])
            elif version < PG_SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = %s", [PG_SCHEMA_VERSION])
    except psycopg.Error as exc:
        raise translate(exc, url) from None


class PostgresHealth(Health):
    """Provider cool-downs in the queue database, so every replica sees them (see :mod:`.health`).
    When the database cannot be used, the state lives in this process meanwhile."""

    def __init__(self, url: str, cooldown_s: float, clock: Callable[[], float] = time.time) -> None:
        super().__init__(None, cooldown_s, clock)
        self.url = url
        self._pg: psycopg.Connection[dict[str, Any]] | None = None

    def _conn(self) -> psycopg.Connection[dict[str, Any]] | None:
        if self._pg is not None and not self._pg.closed and not self._pg.broken:
            return self._pg
        try:
            self._pg = connect(self.url)
            migrate(self._pg, self.url)
        except (psycopg.Error, StorageError) as exc:
            log.warning("provider health kept in this process only: %s", exc)
            self._pg = None
        return self._pg

    def state(self, name: str) -> HealthState:
        with self._lock:
            conn = self._conn()
            if conn is not None:
                try:
                    row = conn.execute(
                        "SELECT failures, cooldown_until FROM provider_health WHERE provider = %s", [name]
                    ).fetchone()
                    return HealthState(int(row["failures"]), row["cooldown_until"]) if row else HealthState(0, None)
                except psycopg.Error:
                    self._pg = None
            return self._memory.get(name, HealthState(0, None))

    def failed(self, name: str) -> None:
        now = self._clock()
        with self._lock:
            conn = self._conn()
            if conn is not None:
                try:
                    with conn.transaction():
                        conn.execute(
                            "INSERT INTO provider_health (provider, failures) VALUES (%s, 0) ON CONFLICT DO NOTHING",
                            [name],
                        )
                        row = conn.execute(
                            "SELECT failures, cooldown_until FROM provider_health WHERE provider = %s FOR UPDATE",
                            [name],
                        ).fetchone()
                        assert row is not None
                        new = after_failure(HealthState(int(row["failures"]), row["cooldown_until"]), now,
                                            self.cooldown_s)  # fmt: skip
                        conn.execute(
                            "UPDATE provider_health SET failures = %s, cooldown_until = %s WHERE provider = %s",
                            [new.failures, new.cooldown_until, name],
                        )
                    return
                except psycopg.Error:
                    self._pg = None
            self._memory[name] = after_failure(self._memory.get(name, HealthState(0, None)), now, self.cooldown_s)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._memory.pop(name, None)
            conn = self._conn()
            if conn is not None:
                try:
                    conn.execute("DELETE FROM provider_health WHERE provider = %s", [name])
                except psycopg.Error:
                    self._pg = None

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                self._pg.close()
                self._pg = None
