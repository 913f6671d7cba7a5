"""The team shape for real: two server processes over Streamable HTTP on one PostgreSQL queue.

Both replicas write images and receipts to one shared folder (in production: the S3 bucket, where a
receipt's key is its job id, so a receipt written twice — by a replica killed before it marked the
row, then by the survivor's housekeeping — is still one receipt). The OpenRouter emulator answers
with a latency, so jobs are in flight when a replica is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.emulator.openrouter import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PROMPT = "A lighthouse on a basalt cliff at dusk, wide shot, watercolor, warm window light, calm mood"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def replica(
    tmp_path: Path, name: str, emulator: Emulator, pg_url: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        **os.environ,
        "OPENROUTER_API_KEY": emulator.api_key,
        "OPENROUTER_BASE_URL": emulator.base_url,
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
        "IMAGEGEN_QUEUE_DIR": str(tmp_path / "queue"),  # receipts: shared, as the bucket is in production
        "IMAGEGEN_QUEUE_URL": pg_url,
        "IMAGEGEN_MAX_WORKERS": "4",
        "IMAGEGEN_ORPHAN_TIMEOUT_S": "5",
    }
    env.pop("IMAGEGEN_MCP_TOKEN", None)
    log_path = tmp_path / f"{name}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagegen_mcp", "serve", "--transport", "http", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_path.read_text()) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0, log_path.read_text()
        log.close()
    assert emulator.api_key not in log_path.read_text()


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, [getattr(b, "text", "") for b in result.content]
    assert result.structured_content is not None
    return dict(result.structured_content)


def receipts(tmp_path: Path) -> list[str]:
    return sorted(p.stem for p in tmp_path.glob("queue/*/*.json"))


async def test_a_replica_killed_mid_drain_loses_nothing_and_the_other_finishes_every_job(
    tmp_path: Path, emulator: Emulator, pg_url: str
) -> None:
    emulator.latency_s = 0.5
    with (
        replica(tmp_path, "a", emulator, pg_url) as (url_a, proc_a),
        replica(tmp_path, "b", emulator, pg_url) as (
            url_b,
            _,
        ),
    ):
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(url_a, http_client=http)) as a,  # type: ignore[arg-type]
            Client(streamable_http_client(url_b, http_client=http)) as b,  # type: ignore[arg-type]
        ):
            args = {"prompt": PROMPT, "count": 16, "request_id": "team-drain", "prefix": "drain"}
            ids = [j["job_id"] for j in structured(await a.call_tool("enqueue_images", args))["jobs"]]
            again = structured(await b.call_tool("enqueue_images", args))  # idempotent across replicas
            assert again["deduplicated"] and [j["job_id"] for j in again["jobs"]] == ids
            await anyio.to_thread.run_sync(
                lambda: emulator.state.wait_for(lambda: len(emulator.generation_requests()) >= 6, 20)
            )
            proc_a.send_signal(signal.SIGKILL)  # mid-drain: both replicas hold running jobs
            proc_a.wait(timeout=10)
            in_flight = len(emulator.generation_requests()) - emulator.generation_count()
            with anyio.fail_after(60):
                while True:  # wait_s is woken by either replica's NOTIFY; call again if it ran out
                    status = structured(
                        await b.call_tool(
                            "queue_status", {"request_id": "team-drain", "wait_s": 20, "return_image": "none"}
                        )
                    )
                    if status["finished"]:
                        break
            assert [j["status"] for j in status["jobs"]] == ["succeeded"] * 16
            # A job the killed replica finished but had no time to write the receipt of gets it from the
            # survivor's housekeeping (every ~10 s while idle).
            with anyio.fail_after(30):
                while len(receipts(tmp_path)) < 16:
                    await anyio.sleep(0.2)
            job = json.loads((await b.read_resource(f"imagegen://jobs/{ids[0]}")).contents[0].text)  # type: ignore[union-attr]
            assert job["status"] == "succeeded"
    assert receipts(tmp_path) == sorted(ids)  # every job exactly one receipt, on one replica or the other
    # Nothing generated twice except what was in flight on the killed replica.
    assert 16 <= emulator.generation_count() <= 16 + in_flight
    assert sorted(p.name for p in (tmp_path / "out").glob("drain-*.png")) == [
        f"drain-{i:02d}.png" for i in range(1, 17)
    ]


async def test_a_cancel_on_one_replica_stops_jobs_running_on_both(
    tmp_path: Path, emulator: Emulator, pg_url: str
) -> None:
    emulator.latency_s = 30.0
    with replica(tmp_path, "a", emulator, pg_url) as (url_a, _), replica(tmp_path, "b", emulator, pg_url) as (url_b, _):
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(url_a, http_client=http)) as a,  # type: ignore[arg-type]
            Client(streamable_http_client(url_b, http_client=http)) as b,  # type: ignore[arg-type]
        ):
            args = {"prompt": PROMPT, "count": 10, "request_id": "team-cancel"}
            structured(await a.call_tool("enqueue_images", args))
            await anyio.to_thread.run_sync(  # 4 workers per replica: 8 running, 2 queued
                lambda: emulator.state.wait_for(lambda: len(emulator.generation_requests()) >= 8, 20)
            )
            with anyio.fail_after(20):
                done = structured(await b.call_tool("cancel_jobs", {"request_id": "team-cancel"}))
            assert [j["status"] for j in done["jobs"]] == ["cancelled"] * 10
    assert emulator.generation_count() == 0 and len(emulator.state.cancelled) == 8
    assert len(receipts(tmp_path)) == 10
