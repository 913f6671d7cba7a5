"""Two servers on one PostgreSQL queue through real MCP clients: they behave as one queue.

(In-process servers for speed; tests/queue/test_team_shape.py runs separate processes over HTTP.)
"""

from __future__ import annotations

import json
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
