"""The worker against the emulator: drain, retry policy, recovery after a crash, shutdown, leases."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from imagegen_mcp.config import Settings
from imagegen_mcp.pipeline import open_services
from imagegen_mcp.providers.placeholder import draw
from imagegen_mcp.queue import files as jobfiles
from imagegen_mcp.queue import ops as queue_ops
from imagegen_mcp.queue.sqlite import Job, JobQueue, make_owner
from imagegen_mcp.queue.worker import Worker, WorkerStats, queue_settings
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

PROMPT = "A red fox curled up in fresh snow, telephoto photo, soft golden dawn light, calm mood"


def open_queue(settings: Settings, **kw: Any) -> JobQueue:
    return JobQueue(settings.queue_dir, orphan_timeout_s=settings.orphan_timeout_s, **kw).open()


async def enqueue(settings: Settings, queue: JobQueue, **arguments: Any) -> list[str]:
    arguments.setdefault("prompt", PROMPT)
    arguments.setdefault("prefix", "fox")
    async with open_services(settings) as services:
        result = await queue_ops.enqueue(services, queue, queue_ops.parse_request(**arguments))
    return [j.job_id for j in result.jobs]


async def drain(settings: Settings, queue: JobQueue, **kw: Any) -> WorkerStats:
    kw.setdefault("once", True)
    kw.setdefault("poll_interval_s", 0.05)
    async with open_services(queue_settings(settings)) as services:
        return await Worker(services, queue, **kw).run()


def receipt(settings: Settings, job_id: str) -> dict[str, Any]:
    for folder in ("results", "failed"):
        path = settings.queue_dir / folder / f"{job_id}.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
    raise AssertionError(f"no receipt for {job_id}")


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def files_in(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def test_drains_jobs_to_consistent_names_with_receipts(settings: Settings) -> None:
    settings = with_settings(settings, provider="placeholder")
    queue = open_queue(settings)
    ids = await enqueue(settings, queue, count=3, out_dir="cats", image_size="low")
    stats = await drain(settings, queue, concurrency=2)
    assert (stats.started, stats.succeeded, stats.failed) == (3, 3, 0)
    assert files_in(settings.output_dir) == ["cats/fox-01.png", "cats/fox-02.png", "cats/fox-03.png",
                                             "cats/fox-manifest.json"]  # fmt: skip
    for n, job in enumerate(queue.get(ids), start=1):
        assert job.status == "succeeded" and job.attempts == 1
        r = receipt(settings, job.job_id)
        assert r["outputs"][0]["path"] == str(settings.output_dir.resolve() / f"cats/fox-{n:02d}.png")
        assert r["provider"]["name"] == "placeholder" and r["timings"]["finished_at"]
    manifest = json.loads((settings.output_dir / "cats" / "fox-manifest.json").read_text())
    assert manifest["prompt"] == PROMPT and manifest["count"] == 3
    assert [v["job_id"] for v in manifest["variants"]] == ids
    assert manifest["options"]["image_size"] == "low"


RETRYABLE = [
    ("429 with Retry-After", Fault("http", status=429, retry_after=1), "rate_limited", 0.9),
    ("429 without Retry-After", Fault("http", status=429), "rate_limited", 0.0),
    ("503", Fault("http", status=503), "provider_unavailable", 0.0),
    ("reset connection", Fault("reset"), "connection_failed", 0.0),
    ("timeout", Fault("hang"), "timeout", 0.0),
]


@pytest.mark.parametrize(("name", "fault", "code", "min_gap"), RETRYABLE, ids=[r[0] for r in RETRYABLE])
async def test_retryable_failures_are_retried_with_backoff(
    settings: Settings, emulator: Emulator, name: str, fault: Fault, code: str, min_gap: float
) -> None:
    settings = with_settings(settings, request_timeout_s=0.5)
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)
    emulator.push_fault(fault)
    stats = await drain(settings, queue)
    [job] = queue.get([job_id])
    assert job.status == "succeeded" and job.attempts == 2 and stats.retried == 1
    log = receipt(settings, job_id)["attempt_log"]
    assert [a["outcome"] for a in log] == ["retry", "succeeded"]
    assert log[0]["error"]["code"] == code
    gap = ts(log[1]["started_at"]) - ts(log[0]["ended_at"])
    assert gap >= min_gap
    if min_gap == 0:
        assert gap < 0.8  # no Retry-After: the configured (tiny) backoff, not a fixed wait
    assert emulator.generation_count(PROMPT) == 1


FINAL = [
    ("402", Fault("http", status=402), "insufficient_credits", "CreditsError"),
    ("401", Fault("http", status=401), "auth_failed", "AuthError"),
    ("403", Fault("http", status=403), "forbidden", "ForbiddenError"),
    ("400", Fault("http", status=400), "bad_request", "BadRequestError"),
    ("no image", Fault("no_image_safety"), "no_image", "NoImageError"),
]


@pytest.mark.parametrize(("name", "fault", "code", "cls"), FINAL, ids=[r[0] for r in FINAL])
async def test_non_retryable_failures_fail_at_once(
    settings: Settings, emulator: Emulator, name: str, fault: Fault, code: str, cls: str
) -> None:
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)
    emulator.set_fault(fault)
    stats = await drain(settings, queue)
    [job] = queue.get([job_id])
    assert job.status == "failed" and job.attempts == 1 and stats.failed == 1 and stats.retried == 0
    assert len(emulator.generation_requests()) == 1
    r = receipt(settings, job_id)
    assert r["status"] == "failed" and r["error"]["code"].startswith(code.split("_")[0])
    assert r["error"]["error_class"] == cls or r["error"]["error_class"].endswith("Error")
    assert r["error"]["message"] and r["error"]["fix"]
    assert emulator.api_key not in json.dumps(r)
    assert not (settings.output_dir / jobfiles.STAGING).exists()
    if fault.is_no_image:  # billed although no image came back: the cost is kept, not lost
        assert job.cost_usd and job.cost_usd > 0 and queue.totals()["cost_usd"] == pytest.approx(job.cost_usd)


async def test_a_job_fails_once_its_attempts_are_used_up(settings: Settings, emulator: Emulator) -> None:
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)
    emulator.set_fault(Fault("http", status=503))
    await drain(settings, queue)
    [job] = queue.get([job_id])
    assert job.status == "failed" and job.attempts == job.max_attempts == 5
    assert "gave up after 5 attempts" in job.error["message"]  # type: ignore[index]
    assert len(emulator.generation_requests()) == 5


def stage_image(settings: Settings, job_id: str, *, sidecar: bool) -> Path:
    """What a worker killed right after saving into staging leaves behind."""
    stage = jobfiles.staging_dir(settings.output_dir, job_id)
    stage.mkdir(parents=True)
    path = stage / "image.png"
    path.write_bytes(draw("staged", 64, 64))
    (stage / ".image.png.dead.tmp").write_bytes(b"half")
    if sidecar:
        from imagegen_mcp.imaging import codec

        facts = codec.inspect(path.read_bytes())
        result = {"images": [{"path": str(path), "uri": "imagegen://images/x", "mime_type": "image/png", "width": 64,
                              "height": 64, "bytes": facts.size, "sha256": facts.sha256}],
                  "model": "google/gemini-3.1-flash-image-preview", "provider": "openrouter",
                  "generation_id": "gen-paid-once", "cost_usd": 0.039, "elapsed_s": 1.0, "hints": []}  # fmt: skip
        (stage / jobfiles.SIDECAR).write_text(json.dumps(result))
    return path


@pytest.mark.parametrize("sidecar", [True, False])
async def test_an_image_a_dead_worker_already_paid_for_is_adopted_not_regenerated(
    settings: Settings, emulator: Emulator, sidecar: bool
) -> None:
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)
    staged = stage_image(settings, job_id, sidecar=sidecar)
    await drain(settings, queue)
    [job] = queue.get([job_id])
    assert job.status == "succeeded" and emulator.generation_requests() == []
    assert job.result["images"][0]["path"] == str(settings.output_dir.resolve() / "fox-01.png")  # type: ignore[index]
    assert (settings.output_dir / "fox-01.png").read_bytes() == staged.read_bytes() if staged.exists() else True
    r = receipt(settings, job_id)
    assert r["provider"]["recovered"] is True
    assert (r["provider"]["generation_id"], job.cost_usd) == (("gen-paid-once", 0.039) if sidecar else (None, None))
    assert files_in(settings.output_dir) == ["fox-01.png", "fox-manifest.json"]


async def test_a_retried_job_converges_to_its_own_file_name(settings: Settings, emulator: Emulator) -> None:
    """Killed after linking the final name but before being marked done: no fox-01-2.png."""
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)
    staged = stage_image(settings, job_id, sidecar=True)
    (settings.output_dir / "fox-01.png").hardlink_to(staged)
    await drain(settings, queue)
    assert files_in(settings.output_dir) == ["fox-01.png", "fox-manifest.json"]
    assert queue.get([job_id])[0].status == "succeeded" and emulator.generation_requests() == []


async def test_a_file_that_appeared_meanwhile_is_never_overwritten(settings: Settings) -> None:
    settings = with_settings(settings, provider="placeholder")
    queue = open_queue(settings)
    await enqueue(settings, queue, image_size="low")
    (settings.output_dir / "fox-01.png").write_bytes(b"the user's own file")
    await drain(settings, queue)
    assert (settings.output_dir / "fox-01.png").read_bytes() == b"the user's own file"
    assert (settings.output_dir / "fox-01-2.png").exists()


async def test_shutdown_puts_a_running_job_back_in_the_queue(settings: Settings, emulator: Emulator) -> None:
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)
    emulator.latency_s = 30
    async with open_services(queue_settings(settings)) as services, anyio.create_task_group() as tg:
        worker = Worker(services, queue, poll_interval_s=0.05)
        tg.start_soon(worker.run)
        await anyio.to_thread.run_sync(lambda: emulator.wait_for_request("/chat/completions", 5))
        tg.cancel_scope.cancel()
    [job] = queue.get([job_id])
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 1, None)
    assert worker.stats.released == 1
    await anyio.to_thread.run_sync(lambda: emulator.wait_for_cancelled(1, 5))  # the upstream call was dropped


async def test_shutdown_before_a_claimed_job_starts_leaves_its_attempt_uncounted(settings: Settings) -> None:
    settings = with_settings(settings, provider="placeholder")
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue)

    async with open_services(queue_settings(settings)) as services, anyio.create_task_group() as tg:

        async def stop(kind: str, job: Job) -> None:
            if kind == "started":
                tg.cancel_scope.cancel()

        tg.start_soon(Worker(services, queue, poll_interval_s=0.05, on_event=stop).run)
    [job] = queue.get([job_id])
    assert (job.status, job.attempts, job.started_at) == ("queued", 0, None)


async def test_heartbeats_keep_a_long_job_leased(settings: Settings, emulator: Emulator) -> None:
    queue = open_queue(settings)
    queue.orphan_timeout_s = 0.6
    [job_id] = await enqueue(settings, queue)
    emulator.latency_s = 1.5
    rival = open_queue(settings)
    rival.orphan_timeout_s = 0.6
    stolen: list[Job] = []
    async with open_services(queue_settings(settings)) as services, anyio.create_task_group() as tg:
        worker = Worker(services, queue, once=True, poll_interval_s=0.05, heartbeat_interval_s=0.15)
        tg.start_soon(worker.run)
        await anyio.to_thread.run_sync(lambda: emulator.wait_for_request("/chat/completions", 5))
        for _ in range(10):
            await anyio.sleep(0.1)
            stolen += await anyio.to_thread.run_sync(rival.claim, make_owner(), 5)
    assert stolen == [] and queue.get([job_id])[0].status == "succeeded"
    assert len(emulator.generation_requests()) == 1


async def test_a_worker_that_lost_its_lease_does_not_finish_the_job(settings: Settings, emulator: Emulator) -> None:
    queue = open_queue(settings)
    queue.orphan_timeout_s = 0.3
    [job_id] = await enqueue(settings, queue)
    emulator.latency_s = 1.0
    async with open_services(queue_settings(settings)) as services, anyio.create_task_group() as tg:
        worker = Worker(services, queue, concurrency=1, once=True, poll_interval_s=0.05, heartbeat_interval_s=60)
        tg.start_soon(worker.run)
        await anyio.to_thread.run_sync(lambda: emulator.wait_for_request("/chat/completions", 5))
        await anyio.sleep(0.5)
        rival, rival_queue = make_owner(), open_queue(settings)  # a live rival with a normal lease
        assert await anyio.to_thread.run_sync(rival_queue.claim, rival, 1)
    assert worker.stats.lost == 1 and worker.stats.succeeded == 0
    [job] = queue.get([job_id])
    assert (job.status, job.lease_owner, job.attempts) == ("running", rival, 2)


async def test_the_worker_providers_make_one_try_per_attempt(settings: Settings) -> None:
    async with open_services(queue_settings(settings)) as services:
        assert services.providers["openrouter"].max_attempts == 1  # type: ignore[attr-defined]
    assert settings.max_attempts > 1  # generate_image keeps its inline retries


async def test_max_jobs_stops_the_worker_after_that_many(settings: Settings) -> None:
    settings = with_settings(settings, provider="placeholder")
    queue = open_queue(settings)
    await enqueue(settings, queue, count=3, image_size="low")
    stats = await drain(settings, queue, max_jobs=2, once=False)
    assert (stats.started, stats.succeeded) == (2, 2)
    assert queue.totals()["queued"] == 1


async def test_a_job_billed_but_not_saved_is_saved_once_space_returns_without_a_new_request(
    settings: Settings, emulator: Emulator
) -> None:
    queue = open_queue(settings)
    [job_id] = await enqueue(settings, queue, prefix="fox")
    stage = jobfiles.staging_dir(settings.output_dir, job_id)
    emulator.latency_s = 1.0
    usage_before = emulator.usage_usd
    kept: list[str] = []

    async def on_event(kind: str, job: Job) -> None:
        if kind == "retry":  # the save failed after billing: note where the bytes are, then "free space"
            kept.append(job.last_error["recovery"])  # type: ignore[index]
            stage.unlink()

    async def fill_the_disk() -> None:
        # A real write failure after the pre-check: while the provider works, the job's staging
        # folder is replaced by a file, so saving the billed image fails with an OSError.
        await anyio.to_thread.run_sync(emulator.wait_for_request, "/chat/completions")
        stage.rmdir()
        stage.write_bytes(b"in the way")

    async with anyio.create_task_group() as tg:
        tg.start_soon(fill_the_disk)
        stats = await drain(settings, queue, on_event=on_event)
    assert (stats.succeeded, stats.failed, stats.retried) == (1, 0, 1)
    assert emulator.generation_count() == 1, "the retry saved the kept bytes; it did not generate again"
    [job] = queue.get([job_id])
    assert job.status == "succeeded"
    billed = emulator.usage_usd - usage_before
    assert job.cost_usd == pytest.approx(billed), "billed once, counted once"
    final = settings.output_dir / "fox-01.png"
    [output] = receipt(settings, job_id)["outputs"]
    assert output["path"] == str(final.resolve()) and final.read_bytes().startswith(b"\x89PNG")
    assert kept and not Path(kept[0]).exists(), "the recovery folder is removed once the images are saved"
