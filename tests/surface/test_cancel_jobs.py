"""cancel_jobs through a real MCP client, and ``imagegen-mcp cancel``: queued jobs end at once, a running
one stops its upstream request (the emulator sees the client go away), totals and receipts say so."""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.cli.main import main as cli_main
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

PROMPT = "A lighthouse on a basalt cliff at dusk, wide shot, watercolor, warm window light, calm mood"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


async def upstream_started(emulator: Emulator, count: int = 1) -> None:
    """Return once the emulator holds ``count`` generation requests (the jobs are running)."""
    got = await anyio.to_thread.run_sync(
        lambda: emulator.state.wait_for(lambda: len(emulator.generation_requests()) >= count, 10)
    )
    assert got


async def cancel_running_and_queued(one: Client, two: Client, emulator: Emulator, settings: Settings) -> None:
    """Enqueue on ``one``; cancel on ``two``: the running job stops upstream, the queued ones end at once."""
    emulator.latency_s = 30.0  # the provider would take far longer than the test
    enq = await one.call_tool("enqueue_images", {"prompt": PROMPT, "count": 4, "request_id": "slow"})
    assert not enq.is_error, text_of(enq)
    await upstream_started(emulator, settings.max_workers)
    with anyio.fail_after(15):
        result = await two.call_tool("cancel_jobs", {"request_id": "slow"})
    assert not result.is_error, text_of(result)
    statuses = [j["status"] for j in result.structured_content["jobs"]]  # type: ignore[index]
    assert statuses == ["cancelled"] * 4, text_of(result)
    await anyio.to_thread.run_sync(
        lambda: emulator.state.wait_for(lambda: len(emulator.state.cancelled) >= settings.max_workers, 10)
    )
    assert emulator.generation_count() == 0  # nothing was delivered, so nothing was generated twice
    status = await two.call_tool("queue_status", {"request_id": "slow", "return_image": "none"})
    data = status.structured_content
    assert data is not None and data["totals"]["cancelled"] == 4 and data["finished"]
    assert data["jobs"][0]["error"]["code"] == "cancelled"
    assert "4 cancelled" in text_of(status)


async def test_cancel_stops_running_jobs_upstream_and_ends_queued_ones(settings: Settings, emulator: Emulator) -> None:
    async with Client(build_server(settings)) as c:
        await cancel_running_and_queued(c, c, emulator, settings)
    receipts = sorted((settings.queue_dir / "failed").glob("*.json"))
    assert len(receipts) == 4
    assert {json.loads(p.read_text())["status"] for p in receipts} == {"cancelled"}


async def test_cancel_on_one_replica_stops_the_job_running_on_another(
    settings: Settings, emulator: Emulator, pg_url: str
) -> None:
    team = with_settings(settings, queue_url=pg_url)
    async with Client(build_server(team)) as one, Client(build_server(team)) as two:
        await cancel_running_and_queued(one, two, emulator, team)


async def test_cancel_needs_ids_and_names_unknown_ones(settings: Settings) -> None:
    async with Client(build_server(with_settings(settings, provider="placeholder"))) as c:
        enq = await c.call_tool("enqueue_images", {"prompt": PROMPT})
        assert not enq.is_error
        missing = await c.call_tool("cancel_jobs", {"job_ids": ["j_nope"]})
        assert missing.is_error and "j_nope" in text_of(missing)
        neither = await c.call_tool("cancel_jobs", {})
        assert neither.is_error and "job_ids or request_id" in text_of(neither)


def test_the_cli_cancels_like_the_tool(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAGEGEN_OUTPUT_DIR", str(settings.output_dir))
    monkeypatch.setenv("IMAGEGEN_QUEUE_DIR", str(settings.queue_dir))
    monkeypatch.setenv("IMAGEGEN_PROVIDER", "placeholder")
    assert cli_main(["enqueue", PROMPT, "--count", "2", "--request-id", "cli-1", "--json"]) == 0
    capsys.readouterr()
    assert cli_main(["cancel", "--request-id", "cli-1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [j["status"] for j in out["jobs"]] == ["cancelled", "cancelled"]
    assert cli_main(["cancel"]) == 2
