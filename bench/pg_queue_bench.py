"""The PostgreSQL queue (the team shape): drain over replicas, enqueue, queue_status at 10,000 jobs, wake-up.

    python bench/pg_queue_bench.py            # 200 jobs over 2 replicas x 4 workers, 0.5 s latency
    python bench/pg_queue_bench.py --quick    # 48 jobs, fewer samples
    python bench/pg_queue_bench.py --json bench/results/pg_queue.json

A throwaway PostgreSQL is started (initdb + pg_ctl, as tests/pg_fixtures.py does; skipped with a
message when the server binaries are missing).

- **drain**: two replicas (each its own store, connection and worker of 4) drain one queue against the
  emulator in its own process, each answer delayed 0.5 s. Ideal = jobs / 8 x latency; efficiency =
  ideal / wall, target >= 0.9 (ratio <= 1.11).
- **enqueue p50**: one request of one job stored (one transaction with its NOTIFY). Target <= 20 ms.
- **queue_status p50**: one request's 16 jobs out of 10,000, with the whole queue's totals
  (``ops.status``, what the tool runs). Target <= 30 ms.
- **cross-replica wake-up p50**: from one replica's commit of a finished job to another replica's
  listener hearing it. Target <= 100 ms.

Nothing here is asserted; the table says whether each target was met.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

import anyio

from bench.common import Figure, percentile, report
from bench.queue_bench import PROMPT, _settings

REPLICAS = 2
WORKERS = 4


def _store(url: str, root: Path) -> Any:
    from imagegen_mcp.queue.postgres import PostgresJobQueue

    return PostgresJobQueue(url, root / "queue").open()


def drain(url: str, jobs: int, latency_s: float) -> Figure:
    from imagegen_mcp.pipeline import open_services
    from imagegen_mcp.queue import ops as queue_ops
    from imagegen_mcp.queue.worker import Worker, queue_settings

    from .emulator_proc import EmulatorProcess

    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(latency_s=latency_s) as emu:
        settings = _settings(Path(tmp), emu, queue_url=url)
        stores = [_store(url, Path(tmp)) for _ in range(REPLICAS)]

        async def fill() -> None:
            async with open_services(settings) as services:
                for i in range(0, jobs, 16):
                    req = queue_ops.parse_request(prompt=PROMPT, count=min(16, jobs - i), prefix=f"pg-{i:04d}")
                    await queue_ops.enqueue(services, stores[0], req)

        anyio.run(fill)
        done = [0] * REPLICAS

        async def run() -> None:
            async def replica(n: int) -> None:
                async with open_services(queue_settings(settings)) as services:
                    worker = Worker(services, stores[n], concurrency=WORKERS, once=True, poll_interval_s=0.05)
                    done[n] = (await worker.run()).succeeded

            async with anyio.create_task_group() as tg:
                for n in range(REPLICAS):
                    tg.start_soon(replica, n)

        started = time.perf_counter()
        anyio.run(run)
        wall = time.perf_counter() - started
        for store in stores:
            store.close()
    ideal = jobs / (REPLICAS * WORKERS) * latency_s
    return Figure(
        name=f"pg drain: {jobs} jobs, {REPLICAS} replicas x {WORKERS}, {latency_s:g} s",
        value=wall,
        floor=ideal,
        unit="s",
        target=round(1 / 0.9, 3),
        note=f"efficiency {ideal / wall:.2f} (target >= 0.90); succeeded per replica {done}",
        extra={"efficiency": ideal / wall, "succeeded": done},
    )


def latencies(url: str, quick: bool) -> list[Figure]:
    from imagegen_mcp.queue import ops as queue_ops
    from imagegen_mcp.queue.jobs import NewJob, make_owner

    samples = 30 if quick else 200
    spec = {"request": {"prompt": PROMPT, "n": 1}, "lint": {}}
    info = {"out_dir": "/o", "prefix": "p", "manifest": "/m.json", "hints": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = _settings(root, queue_url=url)
        a, b = _store(url, root), _store(url, root)
        enqueue_ms = []
        for i in range(samples):
            started = time.perf_counter()
            a.enqueue(f"e-{i}", f"sha{i}", {"i": i}, info, [NewJob(1, f"e-{i:05d}", spec)], check_targets=False)
            enqueue_ms.append((time.perf_counter() - started) * 1000)
        for r in range(10_000 // 16):
            jobs = [NewJob(k + 1, f"f-{r:05d}-{k + 1:02d}", spec) for k in range(16)]
            a.enqueue(f"f-{r:05d}", f"s{r}", {"r": r}, info, jobs, check_targets=False)
        status_ms = []
        for _ in range(samples):
            started = time.perf_counter()
            queue_ops.status(settings, b, request_id="f-00100")
            status_ms.append((time.perf_counter() - started) * 1000)

        heard: dict[str, float] = {}
        got = threading.Event()
        stop = threading.Event()

        def on_notice(kind: str, ids: list[str]) -> None:
            if kind == "finished":
                for i in ids:
                    heard[i] = time.perf_counter()
                got.set()

        listener = threading.Thread(target=b.listen, args=(on_notice, stop))
        listener.start()
        time.sleep(0.5)  # LISTEN is in place
        wake_ms = []
        owner = make_owner()
        for _ in range(samples // 2):
            [job] = a.claim(owner, 1)
            got.clear()
            committed = time.perf_counter()  # the call that commits (an upper bound on commit → heard)
            a.succeed(job, {"images": []}, None)
            got.wait(2)
            if job.job_id in heard:
                wake_ms.append((heard[job.job_id] - committed) * 1000)
        stop.set()
        listener.join()
        a.close()
        b.close()
    p50 = lambda v: percentile(v, 50)  # noqa: E731
    return [
        Figure("pg enqueue p50 (1 job)", p50(enqueue_ms), None, "ms", target=20),
        Figure("pg queue_status p50 (16 of 10,000 jobs)", p50(status_ms), None, "ms", target=30),
        Figure(
            "pg cross-replica wake-up p50",
            max(0.0, p50(wake_ms)),
            None,
            "ms",
            target=100,
            note=f"{len(wake_ms)} samples; p95 {percentile(wake_ms, 95):.1f} ms",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from tests.pg_fixtures import running_postgres

    started = time.perf_counter()
    with running_postgres() as server:
        if server is None:
            print("pg_queue_bench: PostgreSQL server binaries (initdb, pg_ctl) not installed; skipped", file=sys.stderr)
            return 0
        figures = [drain(server.new_database(), 48 if args.quick else 200, 0.5)]
        figures += latencies(server.new_database(), args.quick)
    report(figures, quick=args.quick, started=started, json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
