"""The SQLite store on its own: schema, idempotent enqueue, claims, leases, reclaim, finish, receipts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from imagegen_mcp.errors import RequestError, StorageError
from imagegen_mcp.queue.schema import MIGRATIONS
from imagegen_mcp.queue.sqlite import (
    MAX_LOST_LEASES,
    SCHEMA_VERSION,
    JobQueue,
    NewJob,
    make_owner,
    new_id,
    owner_alive,
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


def test_ids_are_short_sortable_and_unique() -> None:
    ids = [new_id("j") for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 18 and i.startswith("j_") for i in ids)
    assert ids[0][:12] <= ids[-1][:12]  # the time part sorts


def test_enqueue_is_idempotent_per_request_id_and_refuses_another_payload(q: JobQueue) -> None:
    first = add(q, "r1", count=3)
    again, created = q.enqueue("r1", "sha-p", {}, {}, [NewJob(1, "x-01", spec())])
    assert not created and [j.job_id for j in again] == first
    with pytest.raises(RequestError, match="different payload") as info:
        q.enqueue("r1", "sha-other", {}, {}, [NewJob(1, "x-01", spec())])
    assert info.value.code == "request_id_conflict"
    assert len(q.recent(100)) == 3


def test_a_target_another_queued_job_will_write_is_refused(q: JobQueue) -> None:
    add(q, "r1", target="fox")
    with pytest.raises(RequestError, match="fox-01"):
        add(q, "r2", payload="other", target="fox")


def test_claim_leases_each_job_to_one_owner_in_order(q: JobQueue) -> None:
    ids = add(q, "r1", count=5)
    a, b = make_owner(), make_owner()
    got_a = q.claim(a, 2)
    got_b = q.claim(b, 10)
    assert [j.job_id for j in got_a] == ids[:2] and [j.job_id for j in got_b] == ids[2:]
    assert all(j.status == "running" and j.attempts == 1 and j.lease_owner == a for j in got_a)
    assert q.claim(make_owner(), 10) == []


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


def test_heartbeat_keeps_a_lease_and_expiry_reclaims_it(q: JobQueue, clock: Clock) -> None:
    [job_id] = add(q, "r1")
    [first] = q.claim(make_owner(), 1)
    clock.t += 20
    assert q.heartbeat([first]) == {job_id}
    clock.t += 20  # 40 s after the claim, 20 s after the heartbeat: still live
    assert q.claim(make_owner(), 1) == []
    clock.t += 11  # 31 s without a heartbeat: expired
    [again] = q.claim(make_owner(), 1)
    assert again.job_id == job_id and again.attempts == 2 and again.last_error["code"] == "worker_lost"  # type: ignore[index]
    assert q.heartbeat([first]) == set()
    assert q.succeed(first, {"images": []}, 0.1) is None  # the old owner cannot finish it
    assert q.fail(first, {"code": "x"}) is None and not q.release(first, started=True)
    assert q.succeed(again, {"images": []}, 0.1) is not None


def test_a_lease_is_fenced_by_its_attempt_even_for_the_same_owner(q: JobQueue, clock: Clock) -> None:
    add(q, "r1")
    owner = make_owner()
    [stale] = q.claim(owner, 1)
    clock.t += 31
    [fresh] = q.claim(owner, 1)  # the same worker re-claimed its own expired job
    assert q.succeed(stale, {"images": []}, None) is None
    assert q.heartbeat([stale, fresh]) == {fresh.job_id}


def test_lost_leases_do_not_use_up_the_attempts_meant_for_provider_failures(q: JobQueue, clock: Clock) -> None:
    [job_id] = add(q, "r1")
    for _ in range(7):  # more kills than max_attempts (5)
        assert q.claim(make_owner(), 1)
        clock.t += 31
    err = {"code": "rate_limited", "message": "slow down", "fix": "wait", "error_class": "RateLimitError"}
    for n in range(1, 6):
        [job] = q.claim(make_owner(), 1)
        assert (job.lost_leases, job.counted_attempts) == (7, n)
        after = q.fail(job, err, retry_at=clock.t)
        assert after is not None and after.status == ("failed" if n == 5 else "queued")
    [job] = q.get([job_id])
    assert job.error == err and job.attempts == 12 and job.max_attempts == 5


def test_a_job_lost_to_dead_workers_max_lost_leases_times_fails_worker_lost(q: JobQueue, clock: Clock) -> None:
    [job_id] = add(q, "r1")
    for _ in range(MAX_LOST_LEASES):
        assert q.claim(make_owner(), 1)
        clock.t += 31
    assert q.claim(make_owner(), 1) == []
    [job] = q.get([job_id])
    assert job.status == "failed" and job.error["code"] == "worker_lost"  # type: ignore[index]
    assert f"stopped {MAX_LOST_LEASES} times" in job.error["fix"]  # type: ignore[index]
    assert job.lost_leases == MAX_LOST_LEASES and job.counted_attempts == 0
    assert [j.job_id for j in q.pending_receipts()] == [job_id]


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
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    check.close()


def test_a_dead_local_owner_is_reclaimed_at_once_and_a_live_one_is_not(q: JobQueue, clock: Clock) -> None:
    ids = add(q, "r1", count=2)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = make_owner().split("/")[0]
    dead = f"{host}/{proc.pid}/abcd"
    alive = f"{host}/{os.getppid()}/abcd"
    assert not owner_alive(dead) and owner_alive(alive) and owner_alive(f"elsewhere/{proc.pid}/x")
    q.claim(alive, 1)
    q.claim(dead, 1)
    [taken] = q.claim(make_owner(), 5)
    assert taken.job_id == ids[1] and taken.attempts == 2


def test_release_puts_jobs_back_and_uncounts_a_job_that_never_started(q: JobQueue) -> None:
    a, b = add(q, "r1", count=2)
    ca, cb = q.claim(make_owner(), 2)
    assert q.release(ca, started=False)
    assert q.release(cb, started=True)
    ja, jb = q.get([a, b])
    assert (ja.status, ja.attempts, ja.started_at) == ("queued", 0, None)
    assert (jb.status, jb.attempts, jb.lost_leases) == ("queued", 1, 1)  # interrupted: not a used attempt
    assert not q.release(ca, started=False)  # not held any more


def test_a_retry_waits_for_not_before_and_the_attempts_cap(q: JobQueue, clock: Clock) -> None:
    add(q, "r1")
    owner = make_owner()
    err = {"code": "rate_limited", "message": "slow down", "fix": "wait", "error_class": "RateLimitError"}
    for attempt in range(1, 5):
        [job] = q.claim(owner, 1)
        assert job.attempts == attempt
        queued = q.fail(job, err, retry_at=clock.t + 10)
        assert queued is not None and queued.status == "queued" and queued.last_error == err
        assert q.claim(owner, 1) == []  # not due yet
        clock.t += 10
    [job] = q.claim(owner, 1)
    final = q.fail(job, err, retry_at=clock.t + 10)
    assert final is not None and final.status == "failed" and final.attempts == 5 and final.error == err


def test_a_non_retryable_failure_is_final_and_gets_a_receipt(q: JobQueue) -> None:
    [job_id] = add(q, "r1")
    [claimed] = q.claim(make_owner(), 1)
    err = {"code": "insufficient_credits", "message": "no credits", "fix": "add credits", "error_class": "CreditsError"}
    job = q.fail(claimed, err)
    assert job is not None and job.status == "failed"
    path = q.write_receipt(job)
    assert path == q.failed_dir / f"{job_id}.json"
    receipt = json.loads(path.read_text())
    assert receipt["error"] == err and receipt["attempts"] == 1 and receipt["status"] == "failed"
    assert receipt["attempt_log"][0]["outcome"] == "failed"
    assert q.pending_receipts() == []


def test_success_receipt_has_request_outputs_provider_timings_and_attempts(q: JobQueue, clock: Clock) -> None:
    [job_id] = add(q, "r1")
    [claimed] = q.claim(make_owner(), 1)
    clock.t += 2.5
    image = {"path": "/o/t-01.png", "uri": "imagegen://images/x", "mime_type": "image/png", "width": 8,
             "height": 8, "bytes": 10, "sha256": "ab"}  # fmt: skip
    result = {"images": [image], "model": "m/x", "provider": "openrouter", "generation_id": "gen-1", "cost_usd": 0.04}
    job = q.succeed(claimed, result, 0.04)
    assert job is not None
    assert [j.job_id for j in q.pending_receipts()] == [job_id]  # a crash here leaves it pending
    receipt = json.loads(q.write_receipt(job).read_text())
    assert receipt["request"]["prompt"] == "a red fox" and receipt["request"]["target"] == "t-01"
    assert receipt["outputs"] == [image]
    assert receipt["provider"] == {"name": "openrouter", "model": "m/x", "generation_id": "gen-1",
                                   "cost_usd": 0.04, "recovered": False}  # fmt: skip
    assert receipt["timings"]["run_s"] == 2.5 and receipt["attempts"] == 1
    assert q.totals()["succeeded"] == 1 and q.totals()["cost_usd"] == 0.04


def test_queries_and_totals(q: JobQueue) -> None:
    first = add(q, "r1", count=2)
    second = add(q, "r2", count=3, payload="x", target="u")
    assert [j.job_id for j in q.recent(3)] == second
    assert [j.job_id for j in q.for_request("r1")] == first
    assert q.pending() == (5, pytest.approx(q.clock()))
    assert q.unfinished_ids([first[0], "j_nope"]) == {first[0]}
    assert q.totals()["queued"] == 5
