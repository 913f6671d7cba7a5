"""Routing through MCP with two real providers behind loopback emulators: OpenRouter and OpenAI.

The issue's "done when": with OPENAI_API_KEY and OPENROUTER_API_KEY both set and IMAGEGEN_PROVIDER=auto, a
host's generate_image survives one provider being down, says so in attempts[], and bills only what was billed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.openai import OpenAIEmulator
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

PROMPT = "A paper lantern on a wooden table at night, warm light, photo"


def both(tmp_path: Path, openrouter: Emulator, openai: OpenAIEmulator, **changes: Any) -> Settings:
    env = {
        "OPENROUTER_API_KEY": openrouter.api_key,
        "OPENROUTER_BASE_URL": openrouter.base_url,
        "OPENAI_API_KEY": openai.api_key,
        "OPENAI_BASE_URL": openai.base_url,
    }
    settings = Settings.from_env({"HOME": str(tmp_path), "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"), **env})
    return dataclasses.replace(settings, retry_backoff_s=0.01, retry_budget_s=2.0, request_timeout_s=10, **changes)


def image_posts(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.method == "POST"]


async def test_with_both_keys_auto_survives_openrouter_being_down(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    assert settings.provider == "auto"
    emulator.set_fault(Fault("http", status=503))  # OpenRouter is down for the whole test
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content or {}
    assert data["provider"] == "openai"
    attempts = data["attempts"]
    assert [a["provider"] for a in attempts][-1] == "openai" and attempts[-1]["ok"]
    assert all(a["provider"] == "openrouter" and not a["ok"] for a in attempts[:-1]) and len(attempts) >= 2
    assert {a["error"]["code"] for a in attempts[:-1]} == {"provider_unavailable"}
    # Only what was billed: OpenRouter's 503s bill nothing, so the cost is OpenAI's alone.
    assert data["cost_usd"] == attempts[-1]["cost_usd"]
    saved = Path(data["images"][0]["path"]).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == data["images"][0]["sha256"]
    assert "openrouter provider_unavailable" in result.content[0].text  # type: ignore[union-attr]


async def test_a_moderation_refusal_on_the_first_provider_sends_nothing_to_the_second(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    emulator.push_fault(Fault("http", variant="moderation"))
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    assert image_posts(openai_emu) == []
    assert "moderation" in result.content[0].text.lower() or "flagged" in result.content[0].text.lower()  # type: ignore[union-attr]


async def test_a_pinned_provider_that_is_down_fails_without_fallback(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    emulator.set_fault(Fault("http", status=503))
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "provider": "openrouter"})
    assert result.is_error
    assert image_posts(openai_emu) == []


async def test_request_preferences_put_openai_first_and_blocked_openrouter_is_never_called(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": PROMPT, "provider_preferences": {"blocked": ["openrouter"]}}
        )
    assert not result.is_error, result.content
    assert (result.structured_content or {})["provider"] == "openai"
    assert image_posts(emulator) == []


async def test_weights_one_and_zero_pick_the_same_provider_every_time(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu, weights={"openai": 1.0, "openrouter": 0.0})
    async with Client(build_server(settings)) as client:
        for _ in range(3):
            result = await client.call_tool("generate_image", {"prompt": PROMPT, "return_image": "none"})
            assert (result.structured_content or {})["provider"] == "openai"
    assert image_posts(emulator) == []


async def test_a_model_without_provider_goes_only_to_the_provider_that_serves_it(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "model": "gpt-image-2"})
    assert not result.is_error, result.content
    assert (result.structured_content or {})["provider"] == "openai"
    assert image_posts(emulator) == []


async def test_preflight_lists_both_providers_and_a_cooldown_after_two_failures(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    emulator.set_fault(Fault("http", status=503))
    async with Client(build_server(settings)) as client:
        for _ in range(2):
            assert not (await client.call_tool("generate_image", {"prompt": PROMPT, "return_image": "none"})).is_error
        emulator.clear_faults()
        before = len(image_posts(emulator))
        third = await client.call_tool("generate_image", {"prompt": PROMPT, "return_image": "none"})
        report = await client.call_tool("preflight", {})
    assert (third.structured_content or {})["provider"] == "openai"
    assert len(image_posts(emulator)) == before  # cooling down: skipped although it is up again
    providers = {p["name"]: p for p in (report.structured_content or {})["providers"]}
    assert providers["openrouter"]["cooldown_s"] and "cooling down" in providers["openrouter"]["detail"]
    assert providers["openai"]["configured"] and providers["openai"]["ok"]
    assert not providers["compatible"]["configured"] and "IMAGE_API_KEY" in providers["compatible"]["fix"]


async def test_no_key_or_secret_appears_in_results_or_files(
    tmp_path: Path, emulator: Emulator, openai_emu: OpenAIEmulator
) -> None:
    settings = both(tmp_path, emulator, openai_emu)
    emulator.set_fault(Fault("http", status=503))
    async with Client(build_server(settings)) as client:
        results = [
            await client.call_tool("generate_image", {"prompt": PROMPT}),
            await client.call_tool("preflight", {}),
        ]
    blob = "".join(str(r.content) + str(r.structured_content) for r in results)
    files = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for key in (emulator.api_key, openai_emu.api_key):
        assert key not in blob and key.encode() not in files
