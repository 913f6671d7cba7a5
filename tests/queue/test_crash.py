"""Crash safety and multi-process workers, with real processes against the loopback emulator.

- Workers are killed with SIGKILL at random moments and restarted: every job ends exactly once,
  every receipt parses, no half-written file is left, and no job was generated twice while a live
  worker held it (a second generation of the same job only ever follows a kill).
- Three worker processes drain one queue: no job is executed twice.
- As a new user would: 8 images from an MCP client, the server killed mid-way and restarted, all 8
  exactly once, with a contact-sheet preview.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.pipeline import open_services
from imagegen_mcp.queue import ops as queue_ops
from imagegen_mcp.queue.sqlite import JobQueue
from tests.emulator.openrouter import Emulator

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def prompt_for(i: int) -> str:
    return f"A paper lantern number {i} floating over a dark lake, wide shot, watercolor, warm glow, calm mood"


def environment(settings: Settings, emulator: Emulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(
        OPENROUTER_API_KEY=emulator.api_key,
        OPENROUTER_BASE_URL=emulator.base_url,
        IMAGEGEN_OUTPUT_DIR=str(settings.output_dir),
        IMAGEGEN_QUEUE_DIR=str(settings.queue_dir),
        IMAGEGEN_ORPHAN_TIMEOUT_S="5",
        IMAGEGEN_TIMEOUT_S="20",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def worker(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "imagegen_mcp", "worker", "--poll", "0.05", *args],
            env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip


def enqueue_one_per_prompt(settings: Settings, n: int) -> list[str]:
    queue = JobQueue(settings.queue_dir).open()
    ids: list[str] = []

    async def run() -> None:
        async with open_services(settings) as services:
            for i in range(n):
                req = queue_ops.parse_request(prompt=prompt_for(i), prefix=f"lantern-{i:03d}", request_id=f"req-{i}")
                ids.extend(j.job_id for j in (await queue_ops.enqueue(services, queue, req)).jobs)

    anyio.run(run)
    queue.close()
    return ids


def check_outputs(settings: Settings, ids: list[str]) -> dict[str, Any]:
    """Every job succeeded once, with one parseable receipt and one whole image; nothing half-written."""
    queue = JobQueue(settings.queue_dir).open()
    jobs = queue.get(ids)
    totals = queue.totals()
    queue.close()
    assert [j.status for j in jobs] == ["succeeded"] * len(ids), totals
    assert totals["succeeded"] == len(ids) and totals["queued"] == totals["running"] == totals["failed"] == 0
    receipts = {p.stem: json.loads(p.read_text()) for p in (settings.queue_dir / "results").glob("*.json")}
    assert set(receipts) == set(ids) and not list((settings.queue_dir / "failed").glob("*.json"))
    assert all(r["status"] == "succeeded" and len(r["outputs"]) == 1 for r in receipts.values())
    out = settings.output_dir
    everything = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in everything if p.name.endswith(".tmp") or p.name.startswith(".")], "half-written files left"
    assert not (out / ".imagegen-staging").exists()
    images = sorted(p for p in everything if p.suffix == ".png")
    assert sorted(r["outputs"][0]["path"] for r in receipts.values()) == sorted(str(p.resolve()) for p in images)
    for p in images:
        with Image.open(p) as im:
            im.verify()
    return receipts


def receipts_for(settings: Settings, prompt: str) -> list[Any]:
    found = []
    for p in (settings.queue_dir / "results").glob("*.json"):
        r = json.loads(p.read_text())
        if r["request"]["prompt"] == prompt:
            found.append(r["attempt_log"])
    return found


def generations_by_prompt(emulator: Emulator) -> dict[str, list[Any]]:
    by_prompt: dict[str, list[Any]] = defaultdict(list)
    for r in emulator.generation_requests():
        by_prompt[r.prompt or ""].append(r)
    return by_prompt


def test_sigkilled_workers_lose_nothing_and_run_nothing_twice_while_leased(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    emulator.latency_s = 0.12
    ids = enqueue_one_per_prompt(settings, 60)
    env = environment(settings, emulator)
    log = tmp_path / "workers.log"
    kills: list[float] = []
    for _ in range(5):
        proc = worker(env, "--concurrency", "4", log=log)
        time.sleep(rng.uniform(0.4, 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()  # reaped: a dead worker's leases are reclaimed at once, not after the orphan timeout
        kills.append(time.time())  # it is dead by now: anything it sent came before this
    final = worker(env, "--concurrency", "4", "--once", log=log)
    assert final.wait(timeout=60) == 0, log.read_text()[-3000:]

    check_outputs(settings, ids)
    runs = generations_by_prompt(emulator)
    assert set(runs) == {prompt_for(i) for i in range(60)}, f"seed {seed}"
    for prompt, requests in runs.items():
        times = sorted(r.time_received for r in requests)
        for earlier, later in itertools.pairwise(times):
            assert any(earlier < k < later for k in kills), (
                f"{prompt!r} generated twice with no kill between (seed {seed}): "
                f"{[(r.time_received, r.outcome, r.status) for r in requests]} kills={kills} "
                f"receipts={json.dumps(receipts_for(settings, prompt))}"
            )
    assert len(kills) == 5 and log.exists()


def test_three_worker_processes_never_run_a_job_twice(settings: Settings, emulator: Emulator, tmp_path: Path) -> None:
    emulator.latency_s = 0.05
    ids = enqueue_one_per_prompt(settings, 100)
    env = environment(settings, emulator)
    procs = [worker(env, "--concurrency", "4", "--once", log=tmp_path / f"w{i}.log") for i in range(3)]
    for p in procs:
        assert p.wait(timeout=90) == 0
    check_outputs(settings, ids)
    runs = generations_by_prompt(emulator)
    assert {p: len(r) for p, r in runs.items()} == {prompt_for(i): 1 for i in range(100)}
    queue = JobQueue(settings.queue_dir).open()
    assert all(j.attempts == 1 for j in queue.get(ids))
    owners = {r["attempt_log"][0]["owner"] for r in (queue.receipt(j) for j in queue.get(ids))}
    queue.close()
    assert len(owners) >= 2  # the work was really shared


def test_sigterm_stops_a_worker_cleanly_and_puts_its_jobs_back(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.latency_s = 30
    ids = enqueue_one_per_prompt(settings, 3)
    proc = worker(environment(settings, emulator), "--concurrency", "2", log=tmp_path / "w.log")
    emulator.wait_for_request("/chat/completions", 15, count=2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    queue = JobQueue(settings.queue_dir).open()
    jobs = queue.get(ids)
    queue.close()
    assert [j.status for j in jobs] == ["queued"] * 3
    assert sorted(j.attempts for j in jobs) == [0, 1, 1]  # the two running ones keep their attempt
    assert "running jobs were put back" in (tmp_path / "w.log").read_text()


PROMPT = "A hot-air balloon over a patchwork of fields at sunrise, wide shot, gouache, soft light, joyful mood"


@pytest.mark.anyio
async def test_a_user_gets_all_eight_images_exactly_once_across_a_server_kill(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.latency_s = 0.5
    env = environment(settings, emulator, IMAGEGEN_MAX_WORKERS="2")
    params = StdioServerParameters(command=sys.executable, args=["-m", "imagegen_mcp", "serve"], env=env, cwd=str(ROOT))
    queue = JobQueue(settings.queue_dir).open()

    async with Client(params) as c:
        enq = await c.call_tool(
            "enqueue_images", {"prompt": PROMPT, "count": 8, "prefix": "balloon", "request_id": "b8"}
        )
        assert not enq.is_error
        with anyio.fail_after(20):
            while queue.totals()["succeeded"] < 2 or queue.totals()["running"] == 0:
                await anyio.sleep(0.05)
        owner = next(j.lease_owner for j in queue.for_request("b8") if j.status == "running")
        os.kill(int(owner.split("/")[1]), signal.SIGKILL)  # type: ignore[union-attr]  # the server dies mid-way
        await anyio.sleep(0.2)

    async with Client(params) as c:  # the host starts it again
        again = await c.call_tool(
            "enqueue_images", {"prompt": PROMPT, "count": 8, "prefix": "balloon", "request_id": "b8"}
        )
        assert again.structured_content["deduplicated"] is True  # type: ignore[index]
        result = await c.call_tool("queue_status", {"request_id": "b8", "wait_s": 40})
    status = result.structured_content
    assert status is not None and status["finished"] and status["totals"]["succeeded"] == 8, status
    assert [b.type for b in result.content] == ["text"] + ["resource_link"] * 8 + ["image"]
    names = sorted(Path(j["images"][0]["path"]).name for j in status["jobs"])
    assert names == [f"balloon-{i:02d}.png" for i in range(1, 9)]
    check_outputs(settings, [j["job_id"] for j in status["jobs"]])
    assert sum(1 for r in emulator.generation_requests() if r.outcome == "ok") <= 8 + 2  # at most the two in flight
    queue.close()
