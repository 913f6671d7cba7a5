"""Cost before the call: estimates in dry runs, caps that refuse before any request, spend per day.

Through a real MCP client against the OpenRouter emulator (its catalogue prices: openai/gpt-image-1
$0.04 per image on the Image API; the Gemini chat models priced per image token in /models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.queue.spend import Spend
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

PROMPT = "A red fox curled up asleep in fresh snow at dawn, close-up, soft golden light, a serene mood"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def posts(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r.method == "POST"]


async def test_a_dry_run_shows_the_estimate_from_openrouters_image_api_price(client: Client) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": PROMPT, "model": "openai/gpt-image-1", "n": 2, "dry_run": True}
    )
    assert not result.is_error, text_of(result)
    assert result.structured_content["estimated_cost_usd"] == pytest.approx(0.08)  # type: ignore[index]
    assert "about $0.0800" in text_of(result)


async def test_a_chat_model_is_estimated_from_its_per_token_image_price(client: Client) -> None:
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "dry_run": True})
    # /models pricing.image_output 0.00003 per token x 1290 image tokens (prices.json, with its source)
    assert result.structured_content["estimated_cost_usd"] == pytest.approx(0.0387)  # type: ignore[index]


async def test_max_cost_usd_below_the_estimate_refuses_before_any_request(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": PROMPT, "model": "openai/gpt-image-1", "max_cost_usd": 0.03}
    )
    assert result.is_error
    text = text_of(result)
    assert "max_cost_usd=$0.03" in text and "$0.0400" in text and "nothing was sent" in text
    assert posts(emulator) == []


async def test_a_call_within_max_cost_usd_goes_through(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": PROMPT, "model": "openai/gpt-image-1", "max_cost_usd": 0.05}
    )
    assert not result.is_error, text_of(result)
    assert len(posts(emulator)) == 1


async def test_the_per_call_cap_from_the_environment_refuses_too(settings: Settings, emulator: Emulator) -> None:
    async with Client(build_server(with_settings(settings, max_cost_usd=0.01))) as c:
        result = await c.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error and "IMAGEGEN_MAX_COST_USD=$0.01" in text_of(result)
    assert posts(emulator) == []


async def test_a_model_without_a_price_is_refused_under_a_cap_rather_than_guessed(
    client: Client, emulator: Emulator
) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": PROMPT, "model": "openai/gpt-4o-mini", "max_cost_usd": 1.0}
    )
    assert result.is_error
    text = text_of(result)
    assert "no price is known" in text and "dry_run" in text and "max_cost_usd" in text
    assert posts(emulator) == []


async def test_the_daily_budget_counts_todays_spend_and_stops_the_call_that_would_pass_it(
    settings: Settings, emulator: Emulator
) -> None:
    capped = with_settings(settings, daily_budget_usd=0.1)
    async with Client(build_server(capped)) as c:
        first = await c.call_tool("generate_image", {"prompt": PROMPT})  # billed ~$0.0672 by the emulator
        assert not first.is_error, text_of(first)
        second = await c.call_tool("generate_image", {"prompt": PROMPT})
        report = await c.call_tool("preflight", {})
    assert second.is_error
    assert "IMAGEGEN_DAILY_BUDGET_USD=$0.1" in text_of(second) and "$0.0328 left" in text_of(second)
    assert len(posts(emulator)) == 1
    spend = report.structured_content["spend"]  # type: ignore[index]
    assert spend["today_usd"] == pytest.approx(0.0672, abs=1e-4) and spend["left_usd"] == pytest.approx(
        0.0328, abs=1e-4
    )
    assert "spend today (UTC): $0.0672 of $0.1 ($0.0328 left)" in text_of(report)


async def test_preflight_shows_todays_spend_without_a_budget(client: Client) -> None:
    report = await client.call_tool("preflight", {})
    assert report.structured_content["spend"]["today_usd"] == 0  # type: ignore[index]
    assert "spend today (UTC): $0.0000" in text_of(report)


def test_the_ledger_adds_up_per_utc_day_and_starts_again_the_next(tmp_path: Path) -> None:
    day = ["2026-12-05"]
    ledger = Spend(tmp_path / "queue", clock=lambda: day[0])
    assert ledger.today() == 0.0 and not ledger.path.exists()
    ledger.add(0.04)
    ledger.add(0.0672)
    assert ledger.today() == pytest.approx(0.1072)
    day[0] = "2026-12-06"
    assert ledger.today() == 0.0


async def test_enqueue_refuses_a_capped_request_before_queueing_it(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool(
        "enqueue_images", {"prompt": PROMPT, "model": "openai/gpt-image-1", "max_cost_usd": 0.01}
    )
    assert result.is_error and "max_cost_usd=$0.01" in text_of(result)
    status = await client.call_tool("queue_status", {})
    assert status.structured_content["jobs"] == []  # type: ignore[index]
    assert posts(emulator) == []
