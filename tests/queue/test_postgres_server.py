"""Two servers on one PostgreSQL queue through real MCP clients: they behave as one queue.

(In-process servers for speed; tests/queue/test_team_shape.py runs separate processes over HTTP.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

PROMPT = "A lighthouse on a basalt cliff at dusk, wide shot, watercolor, warm window light, calm mood"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


async def test_a_job_enqueued_on_one_server_is_seen_waited_for_and_read_on_another(
    settings: Settings, emulator: Emulator, pg_url: str
) -> None:
    team = with_settings(settings, queue_url=pg_url)
    emulator.latency_s = 0.5
    async with Client(build_server(team)) as one, Client(build_server(team)) as two:
        enq = await one.call_tool("enqueue_images", {"prompt": PROMPT, "count": 2, "request_id": "team-1"})
        assert not enq.is_error, text_of(enq)
        ids = [j["job_id"] for j in enq.structured_content["jobs"]]  # type: ignore[index]
        again = await two.call_tool("enqueue_images", {"prompt": PROMPT, "count": 2, "request_id": "team-1"})
        assert again.structured_content["deduplicated"] is True  # type: ignore[index]
        uri = f"imagegen://jobs/{ids[0]}"
        with anyio.fail_after(20):
            status = await two.call_tool("queue_status", {"request_id": "team-1", "wait_s": 15})
        data = status.structured_content
        assert data is not None and data["finished"], text_of(status)
        assert [j["status"] for j in data["jobs"]] == ["succeeded", "succeeded"]
        assert data["queue"]["succeeded"] == 2
        job = json.loads((await two.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]
        assert job["status"] == "succeeded" and job["images"]
    assert emulator.generation_count() == 2  # each job generated once, whichever server ran it


async def test_a_subscriber_on_another_server_hears_the_job_finish(
    settings: Settings, emulator: Emulator, pg_url: str
) -> None:
    team = with_settings(settings, queue_url=pg_url)
    emulator.latency_s = 1.0  # the job is still running when the client subscribes
    async with Client(build_server(team)) as one, Client(build_server(team)) as two:
        enq = await one.call_tool("enqueue_images", {"prompt": PROMPT})
        uri = f"imagegen://jobs/{enq.structured_content['jobs'][0]['job_id']}"  # type: ignore[index]
        async with two.listen(resource_subscriptions=[uri]) as sub:
            with anyio.fail_after(15):
                async for event in sub:
                    assert event.uri == uri  # type: ignore[union-attr]
                    text = (await two.read_resource(uri)).contents[0].text  # type: ignore[union-attr]
                    if '"succeeded"' in text:
                        break


async def test_preflight_checks_the_database_and_its_schema_version(settings: Settings, pg_url: str) -> None:
    async with Client(build_server(with_settings(settings, queue_url=pg_url, provider="placeholder"))) as c:
        report = (await c.call_tool("preflight", {})).structured_content
        assert report is not None
        [check] = [k for k in report["checks"] if k["name"] == "queue_database"]
        assert check["ok"] and "reachable" in check["detail"]
        await c.call_tool("enqueue_images", {"prompt": PROMPT})  # creates the schema
        report = (await c.call_tool("preflight", {})).structured_content
        [check] = [k for k in report["checks"] if k["name"] == "queue_database"]  # type: ignore[index]
        assert check["ok"] and "schema version" in check["detail"]
    down = with_settings(settings, queue_url="postgresql://me:pw-hidden-77@127.0.0.1:9/db", provider="placeholder")
    async with Client(build_server(down)) as c:
        report = (await c.call_tool("preflight", {})).structured_content
        [check] = [k for k in report["checks"] if k["name"] == "queue_database"]  # type: ignore[index]
        assert not check["ok"] and "IMAGEGEN_QUEUE_URL" in check["detail"] and check["fix"]
        assert "pw-hidden-77" not in json.dumps(report)


@pytest.mark.parametrize(
    ("url", "code"), [("postgresql://me:pw-hidden-77@127.0.0.1:9/db", 1), ("mysql://me:pw-hidden-77@db/x", 2)]
)
def test_serve_refuses_to_start_on_a_queue_url_it_cannot_use(tmp_path: Path, url: str, code: int) -> None:
    env = {**os.environ, "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"), "IMAGEGEN_QUEUE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", "serve", "--transport", "http", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == code and proc.stdout == ""
    assert "IMAGEGEN_QUEUE_URL" in proc.stderr and "pw-hidden-77" not in proc.stderr
