"""The queue's SQLite schema and its migrations, versioned with ``PRAGMA user_version``.

Each entry of :data:`MIGRATIONS` takes a database from the version before it to its own; a database
is migrated in place, one version at a time, inside the transaction that opens it. A database from
a newer release is refused (see :meth:`imagegen_mcp.queue.sqlite.JobQueue.open`).

- v1: requests, jobs, attempts.
- v2: ``jobs.lost_leases``: runs that ended without an outcome (the worker was killed, crashed, lost
  its lease or was stopped). They have their own cap (:data:`MAX_LOST_LEASES`), so killed workers do
  not use up the attempts meant for provider failures. Existing rows are counted from their attempt
  log.
- v3: ``jobs.cancel_requested``: ``cancel_jobs`` asked a running job to stop; the worker that holds
  it (in any process) cancels its run and records it ``cancelled``.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3
FINISHED_SQL = "('succeeded', 'failed', 'cancelled')"

# How many times a job may be lost to a dead or stopped worker before it fails with ``worker_lost``.
# Larger than the attempts cap (5): a kill says nothing about the job, but a job that takes its
# worker down every time (say, it exhausts memory) must not be retried forever.
MAX_LOST_LEASES = 20

_V1 = f"""
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

_V2 = """
ALTER TABLE jobs ADD COLUMN lost_leases INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET lost_leases = (
    SELECT COUNT(*) FROM attempts a WHERE a.job_id = jobs.job_id AND a.outcome IN ('lost', 'interrupted')
)
"""

_V3 = "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0"

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3}


def run_script(c: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one inside the open transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            c.execute(statement)
