"""The queue tools through a real MCP client when the queue is damaged, or not there yet."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.pipeline import open_services
from imagegen_mcp.queue import ops as queue_ops
from imagegen_mcp.queue.sqlite import JobQueue
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.queue.test_faults import damage, damaged_queue

pytestmark = pytest.mark.anyio

PROMPT = "A lighthouse on a basalt cliff at dusk, wide shot, watercolor, warm window light, calm mood"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


@pytest.fixture
def offline(settings: Settings) -> Settings:
    return with_settings(settings, provider="placeholder")


async def test_queue_status_and_the_worker_carry_on_past_a_damaged_job_row(offline: Settings) -> None:
    queue = JobQueue(offline.queue_dir).open()
    async with open_services(offline) as services:
        req = queue_ops.parse_request(prompt=PROMPT, count=3, prefix="cliff", image_size="low", request_id="r3")
        bad, *good = [j.job_id for j in (await queue_ops.enqueue(services, queue, req)).jobs]
    queue.close()
    damage(offline.queue_dir, bad, spec='{"request": ', result="not json either")
    async with Client(build_server(offline)) as c:
        result = await c.call_tool("queue_status", {"request_id": "r3", "wait_s": 30, "return_image": "none"})
    assert not result.is_error, text_of(result)
    status = result.structured_content
    assert status is not None and status["finished"], status
    jobs = {j["job_id"]: j for j in status["jobs"]}
    assert [jobs[g]["status"] for g in good] == ["succeeded", "succeeded"]
    assert jobs[bad]["status"] == "failed" and jobs[bad]["error"]["code"] == "job_corrupt"
    assert "column spec is not valid JSON" in jobs[bad]["error"]["message"]
    assert "is damaged" in text_of(result)


async def test_a_damaged_queue_file_is_a_clean_error_and_moving_it_aside_recovers_a_running_server(
    offline: Settings,
) -> None:
    damaged_queue(offline)
    async with Client(build_server(offline)) as c:
        enq = await c.call_tool("enqueue_images", {"prompt": PROMPT, "prefix": "cliff", "image_size": "low"})
        status = await c.call_tool("queue_status", {})
        for refused in (enq, status):
            assert refused.is_error and "is damaged" in text_of(refused) and " && mv " in text_of(refused)
        command = text_of(enq).split("move it aside: ")[1].split(" — ")[0]
        subprocess.run(["sh", "-c", command], check=True)  # the fix, as given, with the server still running
        again = await c.call_tool("enqueue_images", {"prompt": PROMPT, "prefix": "cliff", "image_size": "low"})
        assert not again.is_error, text_of(again)
        request_id = again.structured_content["request_id"]  # type: ignore[index]
        done = await c.call_tool("queue_status", {"request_id": request_id, "wait_s": 30, "return_image": "none"})
    assert done.structured_content["totals"]["succeeded"] == 1, text_of(done)  # type: ignore[index]


async def test_no_queue_is_created_until_a_queue_tool_needs_it(offline: Settings) -> None:
    queue_dir: Path = offline.queue_dir
    async with Client(build_server(offline)) as c:
        await c.list_tools()
        made = await c.call_tool("generate_image", {"prompt": PROMPT, "image_size": "low", "return_image": "none"})
        assert not made.is_error, text_of(made)
        await anyio.sleep(1.0)  # past the worker's start-up delay: it must not create the queue either
        # (the record of generated images, storage/registry.py, lives beside it and is written on save)
        assert not (queue_dir / "queue.sqlite3").exists()
        enq = await c.call_tool("enqueue_images", {"prompt": PROMPT, "prefix": "first", "image_size": "low"})
        assert not enq.is_error, text_of(enq)
        assert (queue_dir / "queue.sqlite3").is_file()
        request_id = enq.structured_content["request_id"]  # type: ignore[index]
        done = await c.call_tool("queue_status", {"request_id": request_id, "wait_s": 30, "return_image": "none"})
    assert done.structured_content["totals"]["succeeded"] == 1, text_of(done)  # type: ignore[index]
