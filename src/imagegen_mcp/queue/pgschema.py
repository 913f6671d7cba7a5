"""The queue's PostgreSQL schema and its migrations (the team shape, ``IMAGEGEN_QUEUE_URL``).

Everything lives in the ``imagegen`` schema (namespace) of the database the URL names, so the queue
can share a database with other applications. The version is the one row of
``imagegen.schema_version``; each entry of :data:`PG_MIGRATIONS` takes the database from the version
before it to its own. Every replica migrates on start, inside one transaction that holds an advisory
lock, so replicas started together migrate once; a database from a newer release is refused.

The tables are the SQLite store's (:mod:`imagegen_mcp.queue.schema`), typed: times are epoch seconds
in ``DOUBLE PRECISION`` (replicas need synchronised clocks, as leases compare them), JSON columns are
text (decoded by :mod:`imagegen_mcp.queue.rows`, as in SQLite), and ``seq`` stands in for SQLite's
``rowid`` (enqueue order; quarantines update by it). ``provider_health`` holds the router's
cool-downs, so every replica skips a provider another one saw failing.

- v1: requests, jobs, attempts, provider_health.
- v2: ``jobs.cancel_requested`` (``cancel_jobs`` on a running job; see schema.py v3).
"""

from __future__ import annotations

from imagegen_mcp.queue.schema import FINISHED_SQL

PG_SCHEMA = "imagegen"
PG_SCHEMA_VERSION = 2
# pg_advisory_xact_lock key held while migrating ("imagegen" in ASCII, as a bigint).
MIGRATION_LOCK = 0x696D61676567656E

_V1 = f"""
CREATE TABLE requests (
    request_id   TEXT PRIMARY KEY,
    payload_sha  TEXT NOT NULL,
    payload      TEXT NOT NULL,
    info         TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL
);
CREATE TABLE jobs (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    job_id        TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL REFERENCES requests(request_id),
    idx           INTEGER NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    spec          TEXT NOT NULL,
    target        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    not_before    DOUBLE PRECISION NOT NULL,
    lease_owner   TEXT,
    lease_expires DOUBLE PRECISION,
    created_at    DOUBLE PRECISION NOT NULL,
    started_at    DOUBLE PRECISION,
    finished_at   DOUBLE PRECISION,
    result        TEXT,
    error         TEXT,
    last_error    TEXT,
    cost_usd      DOUBLE PRECISION,
    receipt       INTEGER NOT NULL DEFAULT 0,
    lost_leases   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (request_id, idx)
);
CREATE INDEX jobs_due ON jobs (status, not_before);
CREATE INDEX jobs_target ON jobs (target);
CREATE INDEX jobs_unreceipted ON jobs (job_id) WHERE receipt = 0 AND status IN {FINISHED_SQL};
CREATE TABLE attempts (
    job_id     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    owner      TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    ended_at   DOUBLE PRECISION,
    outcome    TEXT,
    error      TEXT,
    PRIMARY KEY (job_id, n)
);
CREATE TABLE provider_health (
    provider       TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    cooldown_until DOUBLE PRECISION
)
"""

PG_MIGRATIONS: dict[int, str] = {1: _V1, 2: "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0"}
