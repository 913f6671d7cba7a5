"""Queue database faults: damaged rows, a damaged file, a read-only directory, leftovers of a killed enqueue.

Rows and files are damaged with ``sqlite3`` and plain writes, as a disk fault or a stray tool would.
CLI verbs run as real processes: a fault is a message and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import StorageError
from imagegen_mcp.pipeline import open_services
from imagegen_mcp.queue import ops as queue_ops
from imagegen_mcp.queue.sqlite import JobQueue, NewJob, make_owner
from imagegen_mcp.queue.worker import TROUBLE_CAP_S, QueueTrouble, Worker, queue_settings
from tests.conftest import with_settings

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "A red fox curled up in fresh snow, telephoto photo, soft golden dawn light, calm mood"


def spec(prompt: str = "a red fox") -> dict[str, object]:
    return {"request": {"prompt": prompt, "n": 1, "provider": "placeholder"}, "lint": {}}


def add(q: JobQueue, request_id: str, count: int) -> list[str]:
    info = {"out_dir": "/o", "prefix": request_id, "manifest": "/o/m.json", "hints": []}
    new = [NewJob(i + 1, f"{request_id}-{i + 1:02d}", spec()) for i in range(count)]
    jobs, _ = q.enqueue(request_id, "sha", {"p": request_id}, info, new)
    return [j.job_id for j in jobs]


def damage(queue_dir: Path, job_id: str, **columns: object) -> None:
    """Write raw values into a job's row, as a disk fault or another tool would."""
    db = sqlite3.connect(queue_dir / "queue.sqlite3")
    for column, value in columns.items():
        db.execute(f"UPDATE jobs SET {column} = ? WHERE job_id = ?", (value, job_id))
    db.commit()
    db.close()


def garble_middle(queue_dir: Path) -> None:
    """Overwrite a whole page in the middle of the (checkpointed) database file with garbage."""
    db = queue_dir / "queue.sqlite3"
    data = bytearray(db.read_bytes())
    assert len(data) >= 4 * 4096, "the database must have pages past the header"
    page = len(data) // 4096 // 2
    data[page * 4096 : (page + 1) * 4096] = os.urandom(4096)
    db.write_bytes(bytes(data))


def offline(settings: Settings) -> Settings:
    return with_settings(settings, provider="placeholder")


async def enqueue(settings: Settings, queue: JobQueue, **arguments: Any) -> list[str]:
    arguments.setdefault("prompt", PROMPT)
    async with open_services(settings) as services:
        result = await queue_ops.enqueue(services, queue, queue_ops.parse_request(**arguments))
    return [j.job_id for j in result.jobs]


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(
        IMAGEGEN_PROVIDER="placeholder",
        IMAGEGEN_OUTPUT_DIR=str(settings.output_dir),
        IMAGEGEN_QUEUE_DIR=str(settings.queue_dir),
        PYTHONPATH=str(ROOT),
    )
    return env


def cli(settings: Settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", *args], env=environment(settings), cwd=ROOT,
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


# --------------------------------------------------------------------------- damaged rows


def test_a_damaged_row_is_quarantined_and_every_other_job_is_still_claimed(tmp_path: Path) -> None:
    q = JobQueue(tmp_path).open()
    bad_json, bad_time, bad_result, good = add(q, "r", 4)
    damage(tmp_path, bad_json, spec="{not json")
    damage(tmp_path, bad_time, not_before="soon")
    damage(tmp_path, bad_result, status="succeeded", result=json.dumps({"images": [{"path": 3}]}))
    listed = {j.job_id: j for j in q.recent(10)}  # never raises, and quarantines what it read
    assert listed[bad_result].status == "failed" and "column result: image 1" in listed[bad_result].error["message"]  # type: ignore[index]
    claimed = q.claim(make_owner(), 10)
    assert [j.job_id for j in claimed] == [good]
    by_id = {j.job_id: j for j in q.get([bad_json, bad_time])}
    for job_id, why in ((bad_json, "column spec is not valid JSON"), (bad_time, "column not_before")):
        job = by_id[job_id]
        assert job.status == "failed" and job.error is not None and job.error["code"] == "job_corrupt"
        assert why in job.error["message"] and "new request_id" in job.error["fix"]
    assert {j.job_id for j in q.pending_receipts()} == {bad_json, bad_time, bad_result}
    for job in q.pending_receipts():
        receipt = json.loads(q.write_receipt(job).read_text())
        assert receipt["status"] == "failed" and receipt["error"]["code"] == "job_corrupt"
    assert q.totals()["failed"] == 3
    q.close()


@pytest.mark.anyio
async def test_the_worker_runs_the_rest_when_a_row_is_damaged_or_its_request_no_longer_validates(
    settings: Settings,
) -> None:
    settings = offline(settings)
    q = JobQueue(settings.queue_dir).open()
    garbage, invalid, good = await enqueue(settings, q, count=3, prefix="fox", image_size="low")
    damage(settings.queue_dir, garbage, spec="\x00\x01 not json")
    [row] = q.get([invalid])
    damage(settings.queue_dir, invalid, spec=json.dumps({**row.spec, "request": {**row.spec["request"], "n": 99}}))
    async with open_services(queue_settings(settings)) as services:
        with anyio.fail_after(20):
            await Worker(services, q, once=True, poll_interval_s=0.05).run()
    jobs = {j.job_id: j for j in q.get([garbage, invalid, good])}
    assert jobs[good].status == "succeeded"
    for job_id in (garbage, invalid):
        assert jobs[job_id].status == "failed" and jobs[job_id].error["code"] == "job_corrupt"  # type: ignore[index]
    assert "n: must be an integer from 1 to 4 (got 99)" in jobs[invalid].error["message"]  # type: ignore[index]
    q.close()


def test_cli_status_and_worker_show_a_damaged_row_as_failed_and_run_the_rest(settings: Settings) -> None:
    settings = offline(settings)
    q = JobQueue(settings.queue_dir).open()
    bad, good = anyio.run(lambda: enqueue(settings, q, count=2, prefix="fox", image_size="low"))
    q.close()
    damage(settings.queue_dir, bad, spec="[1, 2")
    status = cli(settings, "status", "--json")
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    shown = {j["job_id"]: j for j in json.loads(status.stdout)["jobs"]}
    assert shown[bad]["status"] == "failed" and shown[bad]["error"]["code"] == "job_corrupt"
    worker = cli(settings, "worker", "--once", "--poll", "0.05")
    assert worker.returncode == 0 and "Traceback" not in worker.stderr, worker.stderr
    q = JobQueue(settings.queue_dir).open()
    assert [j.status for j in q.get([bad, good])] == ["failed", "succeeded"]
    q.close()


# --------------------------------------------------------------------------- a damaged file


def damaged_queue(settings: Settings) -> Path:
    q = JobQueue(settings.queue_dir).open()
    for i in range(6):
        add(q, f"r{i}", 4)
    q.close()  # the last connection checkpoints the WAL into the file
    garble_middle(settings.queue_dir)
    return settings.queue_dir


def test_a_damaged_database_file_is_refused_on_open_with_the_command_that_moves_it_aside(settings: Settings) -> None:
    queue_dir = damaged_queue(settings)
    with pytest.raises(StorageError) as info:
        JobQueue(queue_dir).open()
    assert info.value.code == "queue_corrupt" and "is damaged" in info.value.message
    command = info.value.fix.split("move it aside: ")[1].split(" — ")[0]
    assert command.startswith("mkdir -p ") and " && mv " in command
    subprocess.run(["sh", "-c", command], check=True)
    fresh = JobQueue(queue_dir).open()  # created anew
    assert fresh.totals()["queued"] == 0
    fresh.close()


def test_every_cli_verb_refuses_a_damaged_database_with_a_message_not_a_traceback(settings: Settings) -> None:
    damaged_queue(offline(settings))
    for args in (("enqueue", PROMPT, "--prefix", "fox"), ("status",), ("worker", "--once"), ("worker",)):
        done = cli(settings, *args, timeout=30)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "is damaged" in done.stderr and " && mv " in done.stderr, args


# --------------------------------------------------------------------------- a read-only queue directory


def read_only(directory: Path, *args: str) -> list[str]:
    """A command line that runs ``imagegen-mcp args`` with ``directory`` mounted read-only (tests run as root,
    so chmod would not stop them; a private mount namespace does)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {directory} {directory} && mount -o remount,ro,bind {directory}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.decode().strip()}")
    run = " ".join([sys.executable, "-m", "imagegen_mcp", *args])
    mount = f"mount --bind {directory} {directory} && mount -o remount,ro,bind {directory}"
    return ["unshare", "-m", "sh", "-c", f"{mount} && exec {run}"]


def held_open_queue(settings: Settings) -> JobQueue:
    """A queue with a due job, held open (as a server would) so its -wal and -shm files exist."""
    q = JobQueue(settings.queue_dir).open()
    add(q, "r", 2)
    return q


def test_worker_once_on_a_read_only_queue_exits_non_zero_with_a_clear_message(settings: Settings) -> None:
    q = held_open_queue(settings)
    command = read_only(settings.queue_dir, "worker", "--once", "--poll", "0.05")
    done = subprocess.run(command, env=environment(settings), cwd=ROOT, capture_output=True, text=True, timeout=30)
    q.close()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "is read-only or cannot be opened for writing" in done.stderr and "IMAGEGEN_QUEUE_DIR" in done.stderr


def test_a_worker_on_a_read_only_queue_backs_off_and_says_so_once(settings: Settings) -> None:
    q = held_open_queue(settings)
    command = read_only(settings.queue_dir, "worker", "--poll", "0.05")
    proc = subprocess.Popen(command, env=environment(settings), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # at a 10 ms retry this would be ~400 claims
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    q.close()
    assert "Traceback" not in err
    assert err.count("read-only or cannot be opened for writing") == 1, err


def test_the_pause_after_each_failure_doubles_up_to_a_cap() -> None:
    trouble = QueueTrouble()
    error = StorageError("the job queue is read-only", "make it writable")
    delays = [trouble.failed(error) for _ in range(8)]
    assert delays[:3] == [0.2, 0.4, 0.8] and delays[-1] == TROUBLE_CAP_S and max(delays) == TROUBLE_CAP_S
    trouble.recovered()
    assert trouble.failed(error) == 0.2


# --------------------------------------------------------------------------- a killed enqueue's leftovers


@pytest.mark.anyio
async def test_the_sweeper_removes_old_manifest_temp_files_only(settings: Settings) -> None:
    settings = offline(settings)
    q = JobQueue(settings.queue_dir).open()
    await enqueue(settings, q, prefix="fox", out_dir="batch", image_size="low")
    folder = settings.output_dir / "batch"
    old = folder / ".fox-manifest.json.0a1b2c3d.tmp"  # what a killed enqueue leaves
    fresh = folder / ".owl-manifest.json.4e5f6a7b.tmp"  # an enqueue writing right now
    others = [folder / ".fox-manifest.json.zz.tmp", folder / "notes.tmp", folder / ".fox-01.png.j_x.tmp"]
    outside = settings.output_dir.parent / ".fox-manifest.json.0a1b2c3d.tmp"
    for p in (old, fresh, *others, outside):
        p.write_text("{")
    an_hour_ago = time.time() - 3600
    for p in (old, *others, outside):
        os.utime(p, (an_hour_ago, an_hour_ago))
    async with open_services(queue_settings(settings)) as services:
        await Worker(services, q, once=True, poll_interval_s=0.05).run()
    assert not old.exists()
    assert fresh.exists() and all(p.exists() for p in others) and outside.exists()
    q.close()
