"""The local Stable Diffusion providers through a real MCP client against loopback emulators: generate,
progress during a long job, cancel (the server sees its interrupt), a missing checkpoint named in the tool
error, and nothing sent anywhere but the configured URL (an unconfigured emulator's log stays empty)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.a1111 import A1111Emulator

pytestmark = pytest.mark.anyio

PROMPT = "A red fox in fresh snow at dawn, telephoto photo, soft golden light"


def settings_for(tmp_path: Path, provider: str, **env: str) -> Settings:
    return Settings(
        output_dir=tmp_path / "out",
        queue_dir=tmp_path / "queue",
        provider=provider,
        provider_env=env,
        progress_interval_s=0.2,
        retry_backoff_s=0.01,
        request_timeout_s=20,
    )


def a1111_env(emu: A1111Emulator) -> dict[str, str]:
    return {"STABLE_DIFFUSION_LOCAL_BASE_URL": emu.base_url}


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings)) as client:
        yield client


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def saved(result: Any) -> list[bytes]:
    return [Path(i["path"]).read_bytes() for i in result.structured_content["images"]]


async def test_a1111_generates_with_no_key_at_zero_cost(tmp_path: Path, a1111: A1111Emulator) -> None:
    async with connected(settings_for(tmp_path, "auto", **a1111_env(a1111))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "aspect_ratio": "3:2"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "a1111" and data["cost_usd"] == 0
    assert data["model"].startswith("v1-5-pruned-emaonly")
    [image] = data["images"]
    assert (image["width"], image["height"]) == (640, 448)
    [sent] = a1111.posts("/txt2img")
    assert sent.json["seed"] == -1 and sent.json["prompt"] == PROMPT
    assert hashlib.sha256(saved(result)[0]).hexdigest() == image["sha256"]


async def test_a1111_reports_its_progress_during_a_long_job(tmp_path: Path, a1111: A1111Emulator) -> None:
    a1111.step_s = 0.05  # 25 steps: ~1.25 s
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    async with connected(settings_for(tmp_path, "a1111", **a1111_env(a1111))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT}, progress_callback=on_progress)
    assert not result.is_error, text_of(result)
    steps = [m for _, m in seen if m and "step " in m and "/25" in m]
    assert len(steps) >= 2


async def test_cancelling_an_a1111_call_interrupts_the_server(tmp_path: Path, a1111: A1111Emulator) -> None:
    a1111.step_s = 0.5  # 12 s unless interrupted
    async with connected(settings_for(tmp_path, "a1111", **a1111_env(a1111))) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "generate_image", {"prompt": PROMPT})
            await anyio.to_thread.run_sync(a1111.wait_for_job)
            tg.cancel_scope.cancel()
        await anyio.to_thread.run_sync(a1111.wait_idle, 3.0)
    assert a1111.interrupts == 1
    assert not list((tmp_path / "out").glob("*.png"))


async def test_a_missing_a1111_checkpoint_is_a_tool_error_naming_it(tmp_path: Path, a1111: A1111Emulator) -> None:
    async with connected(settings_for(tmp_path, "a1111", **a1111_env(a1111))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "model": "juggernautXL_v9"})
    assert result.is_error
    assert "juggernautXL_v9" in text_of(result) and "sd_xl_base_1.0" in text_of(result)
    assert a1111.posts("/txt2img") == []


async def test_a1111_sends_nothing_anywhere_but_its_configured_url(
    tmp_path: Path, a1111: A1111Emulator, bystander: A1111Emulator
) -> None:
    async with connected(settings_for(tmp_path, "auto", **a1111_env(a1111))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
        report = await client.call_tool("preflight", {})
    assert not result.is_error, text_of(result)
    providers = {p["name"]: p for p in report.structured_content["providers"]}
    assert providers["a1111"]["ok"]
    assert a1111.posts("/txt2img") and bystander.requests == []


async def test_pinning_an_unconfigured_local_server_names_its_base_url_variable(tmp_path: Path) -> None:
    async with connected(settings_for(tmp_path, "auto")) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "provider": "a1111"})
    assert result.is_error
    assert "STABLE_DIFFUSION_LOCAL_BASE_URL is not set" in text_of(result)
    assert "export STABLE_DIFFUSION_LOCAL_BASE_URL=" in text_of(result)


async def test_a1111_inpaints_outpaints_upscales_and_edits_through_mcp(tmp_path: Path, a1111: A1111Emulator) -> None:
    settings = settings_for(tmp_path, "a1111", **a1111_env(a1111))
    async with connected(settings) as client:
        made = await client.call_tool("generate_image", {"prompt": PROMPT})
        assert not made.is_error, text_of(made)
        image = made.structured_content["images"][0]["uri"]  # generated here: no upload consent needed
        calls = {
            "inpaint": ("edit_image", {"image": image, "mode": "inpaint", "prompt": "a red door in the wall",
                                       "mask_box": [0.25, 0.25, 0.75, 0.75]}),
            "outpaint": ("edit_image", {"image": image, "mode": "outpaint", "prompt": "more of the snowy field",
                                        "expand": {"left": 128, "right": 128}}),
            "edit": ("edit_image", {"image": image, "mode": "edit", "prompt": "Make the sky orange"}),
            "upscale": ("upscale_image", {"image": image, "scale": 2}),
        }  # fmt: skip
        for op, (tool, args) in calls.items():
            result = await client.call_tool(tool, args)
            assert not result.is_error, f"{op}: {text_of(result)}"
            assert result.structured_content["provider"] == "a1111" and result.structured_content["cost_usd"] == 0
            assert result.structured_content["operation"] == op
    masked = [r.json for r in a1111.posts("/img2img") if "mask" in r.json]
    assert [m["inpaint_full_res"] for m in masked] == [True, False]  # inpaint, then outpaint
    assert a1111.posts("/extra-single-image")
