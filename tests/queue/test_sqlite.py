"""What only the SQLite store has: its WAL file, ``PRAGMA user_version`` migrations, several connections on one file.

The queue's rules, the same on both stores, are tested in test_store_contract.py."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from imagegen_mcp.errors import StorageError
from imagegen_mcp.queue.schema import MIGRATIONS
from imagegen_mcp.queue.sqlite import (
    SCHEMA_VERSION,
    JobQueue,
    NewJob,
    make_owner,
)


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def spec(prompt: str = "a red fox") -> dict[str, object]:
    return {"request": {"prompt": prompt, "n": 1, "provider": "placeholder"}, "lint": {}}


def add(q: JobQueue, request_id: str, count: int = 1, payload: str = "p", target: str = "t") -> list[str]:
    jobs, created = q.enqueue(
        request_id,
        f"sha-{payload}",
        {"payload": payload},
        {"out_dir": "/o", "prefix": target, "manifest": "/o/m.json", "hints": []},
        [NewJob(i + 1, f"{target}-{i + 1:02d}", spec()) for i in range(count)],
    )
    assert created
    return [j.job_id for j in jobs]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def q(tmp_path: Path, clock: Clock) -> JobQueue:
    store = JobQueue(tmp_path / "queue", orphan_timeout_s=30, clock=clock).open()
    yield store  # type: ignore[misc]
    store.close()


def test_opens_in_wal_mode_with_a_versioned_schema(q: JobQueue, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "queue" / "queue.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    assert (tmp_path / "queue" / "results").is_dir() and (tmp_path / "queue" / "failed").is_dir()
    JobQueue(tmp_path / "queue").open().close()  # reopening migrates nothing and keeps data


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    JobQueue(tmp_path).open().close()
    db = sqlite3.connect(tmp_path / "queue.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="schema version"):
        JobQueue(tmp_path).open()


def test_a_version_1_database_is_migrated_in_place_counting_its_lost_runs(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "queue.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO requests VALUES ('r1', 'sha', '{}', '{}', 1.0)")
    db.execute(
        "INSERT INTO jobs (job_id, request_id, idx, status, spec, target, attempts, max_attempts, not_before,"
        " created_at) VALUES ('j_old', 'r1', 1, 'queued', ?, 't-01', 3, 5, 1.0, 1.0)",
        (json.dumps(spec()),),
    )
    for n, outcome in ((1, "lost"), (2, "retry"), (3, "interrupted")):
        db.execute("INSERT INTO attempts VALUES ('j_old', ?, 'h/1/x', 1.0, 2.0, ?, NULL)", (n, outcome))
    db.close()
    q = JobQueue(tmp_path).open()
    [job] = q.get(["j_old"])
    assert (job.attempts, job.lost_leases, job.counted_attempts) == (3, 2, 1)
    [claimed] = q.claim(make_owner(), 1)
    assert claimed.job_id == "j_old" and claimed.attempts == 4
    q.close()
    check = sqlite3.connect(tmp_path / "queue.sqlite3")
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    check.close()


def test_claims_from_many_connections_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "q"
    seed = JobQueue(path).open()
    add(seed, "r", count=200)
    seen: list[str] = []
    lock = threading.Lock()

    def drain() -> None:
        store = JobQueue(path).open()
        owner = make_owner()
        while batch := store.claim(owner, 3):
            with lock:
                seen.extend(j.job_id for j in batch)
        store.close()

    threads = [threading.Thread(target=drain) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200 and len(set(seen)) == 200
