"""generate_image through the bfl and fal providers, with a real MCP client against their loopback
emulators: saved images, progress while polling, a host cancel mid-poll, moderation without fallback,
an expired result URL, a foreign-origin URL never fetched, costs summed, keys nowhere."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.bfl import BFLEmulator
from tests.emulator.fal import FalEmulator
from tests.emulator.jobs import ForeignOrigin

pytestmark = pytest.mark.anyio

PROMPT = "A lighthouse on a basalt cliff at dusk, wide shot, warm window light"


def env_for(bfl: BFLEmulator | None = None, fal: FalEmulator | None = None) -> dict[str, str]:
    env: dict[str, str] = {}
    if bfl is not None:
        env.update(BFL_API_KEY=bfl.api_key, BFL_BASE_URL=bfl.base_url)
    if fal is not None:
        env.update(FAL_KEY=fal.api_key, FAL_QUEUE_URL=fal.queue_url)
    return env


def settings_for(tmp_path: Path, provider: str, env: dict[str, str]) -> Settings:
    return Settings(
        output_dir=tmp_path / "out",
        queue_dir=tmp_path / "queue",
        provider=provider,
        provider_env=env,
        progress_interval_s=0.2,
        retry_backoff_s=0.01,
        request_timeout_s=10,
    )


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings)) as client:
        yield client


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def assert_no_key(result: Any, settings: Settings, *keys: str) -> None:
    shown = text_of(result) + json.dumps(result.structured_content or {})
    for key in keys:
        assert key not in shown
        for path in settings.output_dir.rglob("*") if settings.output_dir.exists() else []:
            if path.is_file():
                assert key.encode() not in path.read_bytes()


async def test_bfl_generates_and_saves_the_sample_with_its_cost(tmp_path: Path, bfl_emu: BFLEmulator) -> None:
    settings = settings_for(tmp_path, "bfl", env_for(bfl=bfl_emu))
    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "aspect_ratio": "16:9", "n": 2})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "bfl" and data["model"] == "flux-pro-1.1"
    assert data["cost_usd"] == pytest.approx(0.08)  # two tasks, summed
    assert [a["cost_usd"] for a in data["attempts"]] == [0.04, 0.04]
    for image in data["images"]:
        with Image.open(image["path"]) as img:
            assert img.size == (1024, 576)
    assert_no_key(result, settings, bfl_emu.api_key)


async def test_fal_generates_and_saves_its_images_with_their_cost(tmp_path: Path, fal_emu: FalEmulator) -> None:
    settings = settings_for(tmp_path, "fal", env_for(fal=fal_emu))
    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "n": 2, "aspect_ratio": "1:1"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "fal" and data["model"] == "fal-ai/flux/dev" and len(data["images"]) == 2
    assert data["cost_usd"] == pytest.approx(0.05)
    assert fal_emu.submits()[0].json["image_size"] == "square_hd"
    assert_no_key(result, settings, fal_emu.api_key)


@pytest.mark.parametrize("which", ["bfl", "fal"])
async def test_progress_notifications_arrive_while_polling_and_only_ever_grow(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator, which: str
) -> None:
    if which == "bfl":
        bfl_emu.fault("slow", polls=3)
        settings = settings_for(tmp_path, "bfl", env_for(bfl=bfl_emu))
    else:
        fal_emu.fault("slow", polls=3)
        settings = settings_for(tmp_path, "fal", env_for(fal=fal_emu))
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT}, progress_callback=on_progress)
    assert not result.is_error, text_of(result)
    values = [p for p, _ in seen]
    assert all(b > a for a, b in itertools.pairwise(values))
    polled = [m for _, m in seen if m and m.startswith(f"{'BFL' if which == 'bfl' else 'fal'} ")]
    assert polled and any(("%" if which == "bfl" else "position") in m for m in polled)


async def test_a_host_cancel_mid_poll_reaches_fals_cancel_endpoint(tmp_path: Path, fal_emu: FalEmulator) -> None:
    fal_emu.fault("hold")
    settings = settings_for(tmp_path, "fal", env_for(fal=fal_emu))
    async with connected(settings) as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("generate_image", {"prompt": PROMPT})

            tg.start_soon(call)
            await anyio.to_thread.run_sync(fal_emu.wait_for_request, "/status")
            tg.cancel_scope.cancel()
        cancel = await anyio.to_thread.run_sync(fal_emu.wait_for_cancel)
    assert cancel.method == "PUT" and cancel.status == 202
    assert not settings.output_dir.exists() or not any(settings.output_dir.rglob("*.jpg"))


@pytest.mark.parametrize(
    ("which", "fault"),
    [("bfl", "request_moderated"), ("bfl", "content_moderated"), ("fal", "content_policy"), ("fal", "nsfw")],
)
async def test_moderation_is_a_clear_tool_error_and_the_next_provider_is_not_tried(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator, which: str, fault: str
) -> None:
    (bfl_emu if which == "bfl" else fal_emu).fault(fault)
    other = fal_emu if which == "bfl" else bfl_emu
    settings = settings_for(tmp_path, "auto", env_for(bfl=bfl_emu, fal=fal_emu))
    async with connected(settings) as client:
        result = await client.call_tool(
            "generate_image",
            {
                "prompt": PROMPT,
                "provider_preferences": {
                    "preferred": [which, "fal" if which == "bfl" else "bfl"],
                    "blocked": ["openrouter"],
                },
            },
        )
    assert result.is_error
    text = text_of(result)
    assert "moderation" in text.lower() or "content_policy_violation" in text or "has_nsfw_concepts" in text
    assert "another provider is not tried" in text
    assert other.submits() == []
    assert_no_key(result, settings, bfl_emu.api_key, fal_emu.api_key)


async def test_a_provider_without_credits_falls_over_to_the_next_and_both_attempts_are_listed(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator
) -> None:
    bfl_emu.fault("no_credits")
    settings = settings_for(tmp_path, "auto", env_for(bfl=bfl_emu, fal=fal_emu))
    async with connected(settings) as client:
        result = await client.call_tool(
            "generate_image",
            {"prompt": PROMPT, "provider_preferences": {"preferred": ["bfl", "fal"], "blocked": ["openrouter"]}},
        )
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "fal"
    assert [(a["provider"], a["ok"]) for a in data["attempts"]] == [("bfl", False), ("fal", True)]
    assert data["attempts"][0]["error"]["code"] == "insufficient_credits"
    assert data["cost_usd"] == pytest.approx(0.025)


@pytest.mark.parametrize("which", ["bfl", "fal"])
async def test_an_expired_result_url_is_a_tool_error_that_reports_the_billed_cost(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator, which: str
) -> None:
    emu = bfl_emu if which == "bfl" else fal_emu
    emu.fault("expired_result")
    settings = settings_for(tmp_path, which, env_for(bfl=bfl_emu, fal=fal_emu))
    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    text = text_of(result)
    assert "expired" in text and f"${0.04 if which == 'bfl' else 0.025:.4f} was billed" in text
    assert "sig=secret" not in text  # the signed query is never shown


@pytest.mark.parametrize(
    ("which", "fault"), [("bfl", "foreign_polling"), ("bfl", "foreign_result"), ("fal", "foreign_status")]
)
async def test_a_url_on_a_foreign_plain_http_origin_is_never_fetched(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator, foreign: ForeignOrigin, which: str, fault: str
) -> None:
    (bfl_emu if which == "bfl" else fal_emu).fault(fault, url=foreign.url)
    settings = settings_for(tmp_path, which, env_for(bfl=bfl_emu, fal=fal_emu))
    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error and "will not follow" in text_of(result)
    assert foreign.hits == []


async def test_preflight_shows_both_providers_configured_without_their_keys(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator
) -> None:
    settings = settings_for(tmp_path, "auto", env_for(bfl=bfl_emu, fal=fal_emu))
    async with connected(settings) as client:
        result = await client.call_tool("preflight", {})
    providers = {p["name"]: p for p in result.structured_content["providers"]}
    assert providers["bfl"]["configured"] and "inpaint" in providers["bfl"]["operations"]
    assert providers["fal"]["configured"] and "upscale" in providers["fal"]["operations"]
    assert_no_key(result, settings, bfl_emu.api_key, fal_emu.api_key)


def _size(path: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(Path(path).read_bytes())) as img:
        return img.size


async def test_cancel_jobs_on_a_queued_fal_job_that_is_polling_sends_fals_cancel(
    tmp_path: Path, fal_emu: FalEmulator
) -> None:
    fal_emu.fault("hold")
    settings = settings_for(tmp_path, "fal", env_for(fal=fal_emu))
    async with connected(settings) as client:
        enq = await client.call_tool("enqueue_images", {"prompt": PROMPT, "request_id": "held"})
        assert not enq.is_error, text_of(enq)
        await anyio.to_thread.run_sync(fal_emu.wait_for_request, "/status")
        with anyio.fail_after(15):
            result = await client.call_tool("cancel_jobs", {"request_id": "held"})
        assert not result.is_error, text_of(result)
        cancel = await anyio.to_thread.run_sync(fal_emu.wait_for_cancel)
    assert cancel.method == "PUT" and cancel.status == 202
    assert [j["status"] for j in result.structured_content["jobs"]] == ["cancelled"]


@pytest.mark.parametrize(
    ("which", "args", "usd"),
    [
        ("bfl", {"model": "flux-2-pro", "image_size": "high", "aspect_ratio": "1:1"}, 0.075),  # 2000x2000: 4 MP
        ("bfl", {"n": 2}, 0.08),
        ("fal", {"aspect_ratio": "1:1", "n": 2}, 0.05),  # square_hd: one megapixel each
        ("fal", {"image_size": "high", "aspect_ratio": "16:9"}, 0.05),  # 1536x864: two started megapixels
    ],
)
async def test_a_dry_run_estimates_what_the_provider_would_be_billed_and_a_cap_below_it_refuses(
    tmp_path: Path, bfl_emu: BFLEmulator, fal_emu: FalEmulator, which: str, args: dict[str, Any], usd: float
) -> None:
    settings = settings_for(tmp_path, which, env_for(bfl=bfl_emu, fal=fal_emu))
    async with connected(settings) as client:
        dry = await client.call_tool("generate_image", {"prompt": PROMPT, "dry_run": True, **args})
        capped = await client.call_tool("generate_image", {"prompt": PROMPT, "max_cost_usd": usd / 2, **args})
    assert dry.structured_content["estimated_cost_usd"] == pytest.approx(usd)
    assert capped.is_error and "max_cost_usd" in text_of(capped)
    assert bfl_emu.submits() == [] and fal_emu.submits() == []
