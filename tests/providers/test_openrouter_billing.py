"""Money through MCP: every billed attempt is in cost_usd and attempts[], and paid images are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

PROMPT = "A paper kite over a green hill, watercolor"
IMAGE_API_MODEL = "bytedance-seed/seedream-4.5"  # served by the Image API (POST /images)
CHAT_MODEL = "google/gemini-2.5-flash-image"  # served by chat completions, one image per call


def billed(emulator: Emulator) -> float:
    return round(sum(float(g.data["total_cost"]) for g in emulator.state.generations.values()), 10)


async def test_a_truncated_answer_that_was_retried_counts_both_billed_generations(
    client: Client, emulator: Emulator
) -> None:
    emulator.push_fault(Fault("truncated"))
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "model": IMAGE_API_MODEL})
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content or {}
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 2  # the cut-off answer was retried
    attempts = data["attempts"]
    assert [a["ok"] for a in attempts] == [False, True]
    assert attempts[0]["error"]["code"] == "connection_failed" and attempts[0]["generation_id"]
    assert all(a["cost_usd"] and a["cost_usd"] > 0 for a in attempts)  # the lost answer's cost was looked up
    assert data["cost_usd"] == pytest.approx(billed(emulator))
    assert data["cost_usd"] == pytest.approx(attempts[0]["cost_usd"] + attempts[1]["cost_usd"])


async def test_images_already_billed_are_kept_when_a_later_one_of_n_fails(
    client: Client, emulator: Emulator, settings: Any
) -> None:
    emulator.push_fault(Fault("no_image_safety"))  # one of the two chat calls is refused (and billed)
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "model": CHAT_MODEL, "n": 2})
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content or {}
    assert len(data["images"]) == 1 and Path(data["images"][0]["path"]).is_file()
    assert data["partial_error"]["code"] == "no_image"
    assert data["cost_usd"] == pytest.approx(billed(emulator)), data["attempts"]  # both calls, the refused one too
    text = result.content[0].text  # type: ignore[union-attr]
    assert "1 of 2" in text and "nothing was generated" not in text


async def test_when_every_one_of_n_fails_the_error_reports_what_was_billed(client: Client, emulator: Emulator) -> None:
    emulator.push_fault(Fault("no_image_safety"), times=2)
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "model": CHAT_MODEL, "n": 2})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert f"${billed(emulator):.4f} was billed" in text
