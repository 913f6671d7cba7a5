"""Queue benchmarks: drain efficiency, ``enqueue_images`` latency, ``queue_status`` latency at 10,000 jobs.

    python bench/queue_bench.py            # 200 jobs, emulator latency 0.5 s, 8 at a time
    python bench/queue_bench.py --quick    # 48 jobs, fewer samples (CI)
    python bench/queue_bench.py --json bench/results/queue.json

- **drain**: jobs drained by one worker (8 concurrent jobs) against the emulator in its own process,
  each answer delayed 0.5 s. The floor is the ideal, jobs / concurrency x latency; efficiency =
  ideal / wall, target >= 0.9 (a ratio <= 1.11).
- **enqueue_images**: one call (4 images) through an in-memory MCP client: validation, prompt lint,
  one transaction, the manifest written with fsync. Target p50 < 50 ms.
- **queue_status**: one request's 16 jobs out of 10,000 in the database, through the same client,
  without previews (target p50 < 50 ms); with the contact-sheet preview is shown for information.

Nothing here is asserted; the table says whether each target was met.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

import anyio

from bench.common import Figure, median, percentile, report

PROMPT = "A paper lantern floating over a dark lake, wide shot, watercolor, warm glow, calm mood"


def _settings(root: Path, emu: Any = None, **kw: Any) -> Any:
    from imagegen_mcp.config import Settings

    if emu is None:
        return Settings(output_dir=root / "out", queue_dir=root / "queue", provider="placeholder", **kw)
    return Settings(
        output_dir=root / "out", queue_dir=root / "queue", api_key=emu.key, base_url=emu.base_url,
        provider="openrouter", request_timeout_s=60, **kw,
    )  # fmt: skip


def drain(jobs: int, concurrency: int, latency_s: float) -> Figure:
    from imagegen_mcp.pipeline import open_services
    from imagegen_mcp.queue import ops as queue_ops
    from imagegen_mcp.queue.sqlite import JobQueue
    from imagegen_mcp.queue.worker import Worker, queue_settings

    from .emulator_proc import EmulatorProcess

    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(latency_s=latency_s) as emu:
        settings = _settings(Path(tmp), emu)
        queue = JobQueue(settings.queue_dir).open()

        async def fill() -> None:
            async with open_services(settings) as services:
                for i in range(0, jobs, 16):
                    req = queue_ops.parse_request(prompt=PROMPT, count=min(16, jobs - i), prefix=f"lantern-{i:04d}")
                    await queue_ops.enqueue(services, queue, req)

        anyio.run(fill)

        async def run() -> Any:
            async with open_services(queue_settings(settings)) as services:
                worker = Worker(services, queue, concurrency=concurrency, once=True, poll_interval_s=0.05)
                return await worker.run()

        started = time.perf_counter()
        stats = anyio.run(run)
        wall = time.perf_counter() - started
        queue.close()
        errors = sorted(
            f"{r['error']['code']}: {r['error']['message']}"
            for r in (json.loads(p.read_text()) for p in (settings.queue_dir / "failed").glob("*.json"))
        )
    ideal = jobs / concurrency * latency_s
    return Figure(
        name=f"queue drain: {jobs} jobs, {concurrency} at a time, {latency_s:g} s",
        value=wall,
        floor=ideal,
        unit="s",
        target=round(1 / 0.9, 3),
        note=f"efficiency {ideal / wall:.2f} (ideal / wall; target >= 0.90); "
        f"{stats.succeeded} succeeded, {stats.failed} failed" + "".join(f"\n    failed: {e}" for e in errors[:3]),
        extra={"efficiency": ideal / wall, "succeeded": stats.succeeded, "failed": stats.failed, "errors": errors},
    )


def fill(settings: Any, total: int) -> str:
    """Put ``total`` finished jobs in the queue (16 per request); return the last request's id."""
    from imagegen_mcp.queue.sqlite import JobQueue, NewJob

    queue = JobQueue(settings.queue_dir).open()
    image = {"path": "/x.png", "uri": "imagegen://images/eA", "mime_type": "image/png", "width": 64, "height": 64,
             "bytes": 100, "sha256": "0" * 64}  # fmt: skip
    result = json.dumps({"images": [image], "model": "m", "provider": "openrouter", "cost_usd": 0.04})
    spec = {"request": {"prompt": PROMPT, "n": 1}, "lint": {}}
    info = {"out_dir": str(settings.output_dir), "prefix": "p", "manifest": "/m.json", "hints": []}
    request_id = ""
    for r in range(total // 16):
        request_id = f"fill-{r:05d}"
        jobs = [NewJob(i + 1, f"fill-{r:05d}-{i + 1:02d}", spec) for i in range(16)]
        queue.enqueue(request_id, f"sha{r}", {"r": r}, info, jobs, check_targets=False)
    with queue._write() as c:  # mark them finished, as a long-lived queue would be
        c.execute("UPDATE jobs SET status = 'succeeded', result = ?, cost_usd = 0.04, finished_at = created_at,"
                  " started_at = created_at, attempts = 1, receipt = 1", (result,))  # fmt: skip
    queue.close()
    return request_id


def latencies(quick: bool) -> list[Figure]:
    from mcp import Client

    from imagegen_mcp.surface.server import build_server

    from .emulator_proc import EmulatorProcess

    samples = 15 if quick else 60
    out: list[Figure] = []
    # A slow emulator keeps the server's own worker idle-waiting, so it does not compete for the CPU.
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(latency_s=120) as emu:
        settings = _settings(Path(tmp), emu)
        last_request = fill(settings, 10_000)

        async def measure() -> tuple[list[float], list[float]]:
            enqueue_ms: list[float] = []
            status_ms: list[float] = []
            async with Client(build_server(settings)) as c:
                for i in range(samples + 3):
                    args = {"prompt": PROMPT, "count": 4, "prefix": f"b{i:03d}", "request_id": f"bench-{i}"}
                    started = time.perf_counter()
                    r = await c.call_tool("enqueue_images", args)
                    if i >= 3:  # warm-up: imports, the catalogue, the first transaction
                        enqueue_ms.append((time.perf_counter() - started) * 1000)
                    assert not r.is_error, r.content
                for i in range(samples + 3):
                    started = time.perf_counter()
                    r = await c.call_tool("queue_status", {"request_id": last_request, "return_image": "none"})
                    if i >= 3:
                        status_ms.append((time.perf_counter() - started) * 1000)
                    assert not r.is_error and len(r.structured_content["jobs"]) == 16  # type: ignore[index]
            return enqueue_ms, status_ms

        enqueue_ms, status_ms = anyio.run(measure)
    out.append(
        Figure(
            "enqueue_images p50 (4 images)",
            median(enqueue_ms),
            None,
            "ms",
            target=50,
            note=f"p90 {percentile(enqueue_ms, 90):.1f} ms over {len(enqueue_ms)} calls",
        )
    )
    out.append(
        Figure(
            "queue_status p50 (16 of 10,000 jobs)",
            median(status_ms),
            None,
            "ms",
            target=50,
            note=f"p90 {percentile(status_ms, 90):.1f} ms over {len(status_ms)} calls, no preview",
        )
    )
    out.append(preview_latency(samples))
    return out


def preview_latency(samples: int) -> Figure:
    """queue_status with the contact sheet of 16 finished placeholder images (informational)."""
    from mcp import Client

    from imagegen_mcp.surface.server import build_server

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), max_workers=4)

        async def measure() -> list[float]:
            times: list[float] = []
            async with Client(build_server(settings)) as c:
                r = await c.call_tool("enqueue_images", {"prompt": PROMPT, "count": 16, "image_size": "low"})
                request_id = r.structured_content["request_id"]  # type: ignore[index]
                await c.call_tool("queue_status", {"request_id": request_id, "wait_s": 120, "return_image": "none"})
                for _ in range(max(5, samples // 3)):
                    started = time.perf_counter()
                    r = await c.call_tool("queue_status", {"request_id": request_id})
                    times.append((time.perf_counter() - started) * 1000)
                    size = len(r.model_dump_json(by_alias=True, exclude_none=True))
            times.append(size / 1024)  # smuggled out: the result size
            return times

        times = anyio.run(measure)
    size_kib = times.pop()
    return Figure(
        "queue_status p50 with a 16-image contact sheet",
        median(times),
        None,
        "ms",
        note=f"result {size_kib:.0f} KiB (budget 1024 KiB); 512 px placeholder images",
        extra={"result_kib": size_kib},
    )


def figures(quick: bool = False) -> list[Figure]:
    logging.basicConfig(level=logging.WARNING)  # before MCPServer configures the root logger at INFO
    jobs = 48 if quick else 200
    return [drain(jobs, 8, 0.5), *latencies(quick)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="48 jobs and fewer samples")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    report(figures(quick=args.quick), quick=args.quick, started=started, json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
