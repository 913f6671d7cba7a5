"""One contract, two stores: every rule of the queue holds the same on SQLite and on PostgreSQL.

Each test runs once per store (``q`` is parametrised): idempotent enqueue, claims, leases and their
fencing, heartbeat, reclaim of expired leases and of dead local workers, lost-lease and attempt caps,
release, retries, receipts, queries and totals. What only one store has (SQLite's WAL file and
``user_version``, PostgreSQL's schema table and NOTIFY) is tested at the end or in test_sqlite.py.
The PostgreSQL cases run against a real server started by the tests (tests/pg_fixtures.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imagegen_mcp.errors import RequestError, StorageError
from imagegen_mcp.queue.jobs import NewJob, make_owner, new_id, owner_alive
from imagegen_mcp.queue.schema import MAX_LOST_LEASES
from imagegen_mcp.queue.sqlite import JobQueue
from imagegen_mcp.queue.sqlstore import SqlJobStore


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def spec(prompt: str = "a red fox") -> dict[str, object]:
    return {"request": {"prompt": prompt, "n": 1, "provider": "placeholder"}, "lint": {}}


def add(q: SqlJobStore, request_id: str, count: int = 1, payload: str = "p", target: str = "t") -> list[str]:
    jobs, created = q.enqueue(
        request_id,
        f"sha-{payload}",
        {"payload": payload},
        {"out_dir": "/o", "prefix": target, "manifest": "/o/m.json", "hints": []},
        [NewJob(i + 1, f"{target}-{i + 1:02d}", spec()) for i in range(count)],
    )
    assert created
    return [j.job_id for j in jobs]


Factory = Callable[..., SqlJobStore]


@pytest.fixture(params=["sqlite", "postgres"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens stores on one queue (the same SQLite directory, or the same PostgreSQL database)."""
    opened: list[SqlJobStore] = []
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None

    def factory(**kwargs: object) -> SqlJobStore:
        if url is not None:
            from imagegen_mcp.queue.postgres import PostgresJobQueue

            store: SqlJobStore = PostgresJobQueue(url, tmp_path / "queue", **kwargs).open()  # type: ignore[arg-type]
        else:
            store = JobQueue(tmp_path / "queue", **kwargs).open()  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()  # type: ignore[attr-defined]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def q(make: Factory, clock: Clock) -> SqlJobStore:
    return make(orphan_timeout_s=30, clock=clock)


def test_ids_are_short_sortable_and_unique() -> None:
    ids = [new_id("j") for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 28 and i.startswith("j_") for i in ids)  # 16 random characters: 80 bits
    assert ids[0][:12] <= ids[-1][:12]  # the time part sorts


def test_enqueue_is_idempotent_per_request_id_and_refuses_another_payload(q: SqlJobStore) -> None:
    first = add(q, "r1", count=3)
    again, created = q.enqueue("r1", "sha-p", {}, {}, [NewJob(1, "x-01", spec())])
    assert not created and [j.job_id for j in again] == first
    with pytest.raises(RequestError, match="different payload") as info:
        q.enqueue("r1", "sha-other", {}, {}, [NewJob(1, "x-01", spec())])
    assert info.value.code == "request_id_conflict"
    assert len(q.recent(100)) == 3


def test_a_target_another_queued_job_will_write_is_refused(q: SqlJobStore) -> None:
    add(q, "r1", target="fox")
    with pytest.raises(RequestError, match="fox-01"):
        add(q, "r2", payload="other", target="fox")


def test_claim_leases_each_job_to_one_owner_in_order(q: SqlJobStore) -> None:
    ids = add(q, "r1", count=5)
    a, b = make_owner(), make_owner()
    got_a = q.claim(a, 2)
    got_b = q.claim(b, 10)
    assert [j.job_id for j in got_a] == ids[:2] and [j.job_id for j in got_b] == ids[2:]
    assert all(j.status == "running" and j.attempts == 1 and j.lease_owner == a for j in got_a)
    assert q.claim(make_owner(), 10) == []


def test_heartbeat_keeps_a_lease_and_expiry_reclaims_it(q: SqlJobStore, clock: Clock) -> None:
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


def test_a_lease_is_fenced_by_its_attempt_even_for_the_same_owner(q: SqlJobStore, clock: Clock) -> None:
    add(q, "r1")
    owner = make_owner()
    [stale] = q.claim(owner, 1)
    clock.t += 31
    [fresh] = q.claim(owner, 1)  # the same worker re-claimed its own expired job
    assert q.succeed(stale, {"images": []}, None) is None
    assert q.heartbeat([stale, fresh]) == {fresh.job_id}


def test_lost_leases_do_not_use_up_the_attempts_meant_for_provider_failures(q: SqlJobStore, clock: Clock) -> None:
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


def test_a_job_lost_to_dead_workers_max_lost_leases_times_fails_worker_lost(q: SqlJobStore, clock: Clock) -> None:
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


def test_a_dead_local_owner_is_reclaimed_at_once_and_a_live_one_is_not(q: SqlJobStore, clock: Clock) -> None:
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


def test_release_puts_jobs_back_and_uncounts_a_job_that_never_started(q: SqlJobStore) -> None:
    a, b = add(q, "r1", count=2)
    ca, cb = q.claim(make_owner(), 2)
    assert q.release(ca, started=False)
    assert q.release(cb, started=True)
    ja, jb = q.get([a, b])
    assert (ja.status, ja.attempts, ja.started_at) == ("queued", 0, None)
    assert (jb.status, jb.attempts, jb.lost_leases) == ("queued", 1, 1)  # interrupted: not a used attempt
    assert not q.release(ca, started=False)  # not held any more


def test_a_retry_waits_for_not_before_and_the_attempts_cap(q: SqlJobStore, clock: Clock) -> None:
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


def test_a_non_retryable_failure_is_final_and_gets_a_receipt(q: SqlJobStore) -> None:
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


def test_success_receipt_has_request_outputs_provider_timings_and_attempts(q: SqlJobStore, clock: Clock) -> None:
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


def test_queries_and_totals(q: SqlJobStore) -> None:
    first = add(q, "r1", count=2)
    second = add(q, "r2", count=3, payload="x", target="u")
    assert [j.job_id for j in q.recent(3)] == second
    assert [j.job_id for j in q.for_request("r1")] == first
    assert q.pending() == (5, pytest.approx(q.clock()))
    assert q.unfinished_ids([first[0], "j_nope"]) == {first[0]}
    assert q.totals()["queued"] == 5


def test_claims_from_many_connections_never_overlap(make: Factory) -> None:
    seed = make()
    add(seed, "r", count=200)
    stores = [make() for _ in range(6)]
    seen: list[str] = []
    lock = threading.Lock()

    def drain(store: SqlJobStore) -> None:
        owner = make_owner()
        while batch := store.claim(owner, 3):
            with lock:
                seen.extend(j.job_id for j in batch)

    threads = [threading.Thread(target=drain, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200 and len(set(seen)) == 200


def test_the_same_request_id_from_two_processes_enqueues_once(make: Factory) -> None:
    a, b = make(), make()
    first = add(a, "shared", count=2)
    again, created = b.enqueue("shared", "sha-p", {}, {}, [NewJob(1, "t-01", spec())])
    assert not created and [j.job_id for j in again] == first
    with pytest.raises(RequestError) as info:
        b.enqueue("shared", "sha-other", {}, {}, [NewJob(1, "t-01", spec())])
    assert info.value.code == "request_id_conflict"


def test_the_cost_ledger_adds_every_billed_attempt(q: SqlJobStore, clock: Clock) -> None:
    [job_id] = add(q, "r1")
    err = {"code": "server_error", "message": "boom", "fix": "wait", "error_class": "ProviderError"}
    [job] = q.claim(make_owner(), 1)
    q.fail(job, err, retry_at=clock.t, cost_usd=0.01)
    [job] = q.claim(make_owner(), 1)
    done = q.succeed(job, {"images": []}, 0.04)
    assert done is not None and done.cost_usd == pytest.approx(0.05)
    assert q.totals()["cost_usd"] == pytest.approx(0.05)
    assert [a["outcome"] for a in q.receipt(done)["attempt_log"]] == ["retry", "succeeded"]
    assert job_id == done.job_id


# --------------------------------------------------------------------------- PostgreSQL only


@pytest.fixture
def pg(pg_url: str, tmp_path: Path) -> Iterator[Callable[..., SqlJobStore]]:
    from imagegen_mcp.queue.postgres import PostgresJobQueue

    opened: list[PostgresJobQueue] = []

    def factory(**kwargs: object) -> PostgresJobQueue:
        store = PostgresJobQueue(pg_url, tmp_path / "queue", **kwargs).open()  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def test_postgres_schema_is_versioned_and_a_newer_one_is_refused(pg: Callable[..., SqlJobStore], pg_url: str) -> None:
    import psycopg

    from imagegen_mcp.queue.pgschema import PG_SCHEMA_VERSION

    store = pg()
    assert store.schema_version() == PG_SCHEMA_VERSION  # type: ignore[attr-defined]
    pg().close()  # a second replica starting migrates nothing
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE imagegen.schema_version SET version = version + 1")
    with pytest.raises(StorageError, match="schema version") as info:
        pg()
    assert "upgrade imagegen-mcp" in info.value.fix


def test_a_bad_postgres_url_is_an_error_naming_the_variable_without_the_password(tmp_path: Path) -> None:
    from imagegen_mcp.queue.postgres import PostgresJobQueue

    with pytest.raises(StorageError) as info:
        PostgresJobQueue("postgresql://me:s3cret@127.0.0.1:9/db", tmp_path).open()
    assert "IMAGEGEN_QUEUE_URL" in str(info.value) and "s3cret" not in str(info.value)
    assert info.value.code == "queue_unreachable"


def test_every_change_is_announced_to_listeners_on_commit(pg: Callable[..., SqlJobStore]) -> None:
    a, b = pg(), pg()
    heard: list[tuple[str, list[str]]] = []
    got = threading.Event()
    stop = threading.Event()

    def on_notice(kind: str, ids: list[str]) -> None:
        heard.append((kind, ids))
        if kind == "finished":
            got.set()  # only job_id finishes

    listener = threading.Thread(target=b.listen, args=(on_notice, stop))
    listener.start()
    try:
        for _ in range(100):  # the listener is up once it hears a change
            add(a, f"probe-{len(heard)}-{new_id('r')}", target=new_id("t"))
            if heard:
                break
            threading.Event().wait(0.05)
        [job_id] = add(a, "r1")
        [job] = [j for j in a.claim(make_owner(), 100) if j.job_id == job_id]
        a.succeed(job, {"images": []}, None)
        assert got.wait(5)
    finally:
        stop.set()
        listener.join()
    kinds = {k for k, ids in heard if job_id in ids}
    assert {"queued", "started", "finished"} <= kinds


def test_provider_cool_downs_are_shared_through_the_database(pg_url: str) -> None:
    from imagegen_mcp.queue.postgres import PostgresHealth

    one, two = PostgresHealth(pg_url, 60), PostgresHealth(pg_url, 60)
    try:
        one.failed("openai")
        two.failed("openai")  # the second failure in a row, seen from another replica
        assert one.cooling_down("openai") and two.cooling_down("openai")
        assert 0 < one.seconds_left("openai") <= 60
        one.succeeded("openai")
        assert not two.cooling_down("openai")
    finally:
        one.close()
        two.close()


# --------------------------------------------------------------------------- cancel (both stores)


def test_cancel_ends_queued_jobs_at_once_and_asks_running_ones_to_stop(q: SqlJobStore) -> None:
    a, b, c = add(q, "r1", count=3)
    [running] = q.claim(make_owner(), 1)
    assert running.job_id == a
    [done] = [j for j in q.claim(make_owner(), 1)]
    q.succeed(done, {"images": []}, None)
    after = {j.job_id: j.status for j in q.cancel([a, b, c])}
    assert after == {a: "running", b: "succeeded", c: "cancelled"}
    assert q.cancel_requested([a, b, c]) == {a}
    [cancelled] = q.get([c])
    assert cancelled.error["code"] == "cancelled" and cancelled.finished_at is not None  # type: ignore[index]
    assert q.claim(make_owner(), 5) == []  # a cancelled job is never run
    stopped = q.finish_cancelled(running)
    assert stopped is not None and stopped.status == "cancelled"
    assert q.totals()["cancelled"] == 2 and q.totals()["running"] == 0
    receipt = json.loads(q.write_receipt(stopped).read_text())
    assert receipt["status"] == "cancelled" and receipt["attempt_log"][-1]["outcome"] == "cancelled"
    assert q.cancel([c])[0].status == "cancelled"  # cancelling again changes nothing


def test_a_job_asked_to_stop_ends_cancelled_even_if_its_worker_dies_or_shuts_down(q: SqlJobStore, clock: Clock) -> None:
    a, b = add(q, "r1", count=2)
    ja, jb = q.claim(make_owner(), 2)
    q.cancel([a, b])
    assert q.release(ja, started=True)  # shut down while stopping it: not queued again
    clock.t += 31  # b's worker died: its expired lease is reclaimed as cancelled, not retried
    assert q.claim(make_owner(), 5) == []
    assert [j.status for j in q.get([a, b])] == ["cancelled", "cancelled"]
    assert q.finish_cancelled(jb) is None  # the lease is gone
