"""generate_image and preflight with the openai and compatible providers, through a real MCP client,
against the loopback OpenAI emulator (OpenAI mode and gateway mode)."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.openai import OpenAIEmulator
from tests.openai_fixtures import Relay

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
        request_timeout_s=10,
    )


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings)) as client:
        yield client


def openai_env(emu: OpenAIEmulator) -> dict[str, str]:
    return {"OPENAI_API_KEY": emu.api_key, "OPENAI_BASE_URL": emu.base_url}


def gateway_env(emu: OpenAIEmulator, base: str | None = None) -> dict[str, str]:
    return {"IMAGE_API_KEY": emu.api_key, "IMAGE_BASE_URL": base or emu.root_url}


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def image_posts(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and "/images/" in r.path]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def saved_sha(result: Any) -> list[str]:
    return [sha(Path(i["path"]).read_bytes()) for i in result.structured_content["images"]]


def emulator_bytes(emu: OpenAIEmulator, body: dict[str, Any]) -> list[bytes]:
    """The emulator's answer to ``body`` (its images are deterministic), b64 or URL."""
    with httpx2.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        items = http.post("/images/generations", json=body).json()["data"]
        return [base64.b64decode(i["b64_json"]) if "b64_json" in i else http.get(i["url"]).content for i in items]


async def test_openai_saves_the_emulators_bytes_with_cost_and_attempts(
    tmp_path: Path, openai_emu: OpenAIEmulator
) -> None:
    async with connected(settings_for(tmp_path, "openai", **openai_env(openai_emu))) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": PROMPT, "model": "gpt-image-1.5", "image_size": "medium", "n": 2}
        )
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "openai" and data["model"] == "gpt-image-1.5"
    assert data["cost_usd"] == pytest.approx(2 * 0.034)
    [attempt] = data["attempts"]
    assert attempt["provider"] == "openai" and attempt["ok"] and attempt["cost_usd"] == pytest.approx(0.068)
    [sent] = image_posts(openai_emu)
    assert saved_sha(result) == [sha(b) for b in emulator_bytes(openai_emu, sent.json)]


async def test_openai_default_model_has_no_price_and_says_so(tmp_path: Path, openai_emu: OpenAIEmulator) -> None:
    async with connected(settings_for(tmp_path, "openai", **openai_env(openai_emu))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "aspect_ratio": "16:9"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["model"] == "gpt-image-2" and result.structured_content["cost_usd"] is None
    assert "cost not reported" in text_of(result)
    assert image_posts(openai_emu)[0].json["size"] == "1536x864"


async def test_a_baseline_image_is_uploaded_as_an_image_part_with_its_exact_bytes(
    tmp_path: Path, openai_emu: OpenAIEmulator
) -> None:
    settings = settings_for(tmp_path, "openai", **openai_env(openai_emu))
    settings.output_dir.mkdir(parents=True)
    baseline = settings.output_dir / "sketch.png"
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 140, 90)).save(buf, "PNG")
    baseline.write_bytes(buf.getvalue())
    async with connected(settings) as client:
        result = await client.call_tool(
            "generate_image",
            {
                "prompt": "Make the sky in this sketch orange",
                "baseline_image": str(baseline),
                "confirm_external_upload": True,  # a file this server did not generate
            },
        )
    assert not result.is_error, text_of(result)
    [sent] = image_posts(openai_emu)
    assert sent.path == "/v1/images/edits"
    assert [(p.name, p.sha256) for p in sent.parts] == [("image[]", sha(buf.getvalue()))]


async def test_a_429_is_retried_after_its_wait_and_both_attempts_are_listed(
    tmp_path: Path, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.fault("rate_limit", retry_after=0.3)
    async with connected(settings_for(tmp_path, "openai", **openai_env(openai_emu))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert not result.is_error, text_of(result)
    first, second = image_posts(openai_emu)
    assert second.time_received - first.time_received >= 0.3
    attempts = result.structured_content["attempts"]
    assert [(a["ok"], (a["error"] or {}).get("code")) for a in attempts] == [(False, "rate_limited"), (True, None)]


async def test_moderation_is_a_tool_error_not_retried_and_not_laundered_through_the_gateway(
    tmp_path: Path, openai_emu: OpenAIEmulator, gateway: OpenAIEmulator
) -> None:
    openai_emu.fault("moderation", times=None)
    settings = settings_for(tmp_path, "auto", **openai_env(openai_emu), **gateway_env(gateway))
    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error and "safety system" in text_of(result) and "rephrase" in text_of(result)
    assert len(image_posts(openai_emu)) == 1
    assert image_posts(gateway) == []


async def test_an_outage_falls_back_from_openai_to_the_gateway(
    tmp_path: Path, openai_emu: OpenAIEmulator, gateway: OpenAIEmulator
) -> None:
    openai_emu.fault("server_error", times=None, status=503)
    settings = settings_for(tmp_path, "auto", **openai_env(openai_emu), **gateway_env(gateway))
    async with connected(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "compatible"
    assert [a["provider"] for a in data["attempts"]] == ["openai"] * 3 + ["compatible"]


@pytest.mark.parametrize("with_v1", [False, True])
async def test_gateway_url_answers_are_downloaded_and_saved_unchanged(
    tmp_path: Path, gateway: OpenAIEmulator, with_v1: bool
) -> None:
    base = gateway.base_url if with_v1 else gateway.root_url
    async with connected(settings_for(tmp_path, "compatible", **gateway_env(gateway, base))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "aspect_ratio": "3:2"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "compatible" and data["cost_usd"] is None
    [sent] = image_posts(gateway)
    assert sent.path == "/v1/images/generations"
    assert saved_sha(result) == [sha(b) for b in emulator_bytes(gateway, sent.json)]
    assert any(r.path.startswith("/files/") for r in gateway.requests)


async def test_a_result_url_on_a_foreign_http_origin_is_refused(
    tmp_path: Path, gateway: OpenAIEmulator, relay: Relay
) -> None:
    async with connected(settings_for(tmp_path, "compatible", **gateway_env(gateway, relay.url))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error and "will not follow" in text_of(result)
    assert len(image_posts(gateway)) == 1  # billed once, never retried elsewhere
    assert not any(r.path.startswith("/files/") for r in gateway.requests)
    assert not list((tmp_path / "out").glob("*.png"))


async def test_an_expired_url_is_a_clear_error_with_the_cost_reported(
    tmp_path: Path, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.fault("expired_url")
    async with connected(settings_for(tmp_path, "openai", **openai_env(openai_emu))) as client:
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "model": "dall-e-2"})
    assert result.is_error
    text = text_of(result)
    assert "expired" in text and "$0.0200 was billed" in text


async def test_preflight_reports_both_providers_with_masked_keys(
    tmp_path: Path, openai_emu: OpenAIEmulator, gateway: OpenAIEmulator
) -> None:
    settings = settings_for(tmp_path, "auto", **openai_env(openai_emu), **gateway_env(gateway))
    async with connected(settings) as client:
        result = await client.call_tool("preflight", {})
    providers = {p["name"]: p for p in result.structured_content["providers"]}
    assert providers["openai"]["ok"] and providers["compatible"]["ok"], providers
    assert "inpaint" in providers["openai"]["operations"]
    assert openai_emu.api_key not in result.model_dump_json()


async def test_the_key_is_in_no_result_log_or_file(
    tmp_path: Path, openai_emu: OpenAIEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = openai_emu.api_key
    settings = settings_for(tmp_path, "openai", **openai_env(openai_emu))
    outputs: list[str] = []
    async with connected(settings) as client:
        outputs.append((await client.call_tool("generate_image", {"prompt": PROMPT})).model_dump_json())
        # A proxy that echoes the key back in its error text.
        openai_emu.fault("server_error", times=None, message=f"upstream rejected Bearer {key}")
        failed = await client.call_tool("generate_image", {"prompt": PROMPT})
        assert failed.is_error
        outputs.append(failed.model_dump_json())
        outputs.append((await client.call_tool("preflight", {})).model_dump_json())
    assert not any(key in o for o in outputs)
    assert key not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
