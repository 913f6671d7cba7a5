"""The OpenRouter provider against the emulator: surfaces, parameters, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from imagegen_mcp import errors as e
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.openrouter import OpenRouterProvider, chat_image_config, image_api_params
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio


@pytest.fixture
async def provider(emulator: Emulator) -> AsyncIterator[OpenRouterProvider]:
    async with httpx2.AsyncClient(timeout=10) as http:
        yield OpenRouterProvider(
            SharedClient(client=http), api_key=emulator.api_key, base_url=emulator.base_url, backoff_s=0.01
        )


def posts(emulator: Emulator) -> list[str]:
    return [r.path for r in emulator.requests if r.method == "POST"]


async def test_the_surface_is_learnt_from_the_image_api_catalogue(provider: OpenRouterProvider) -> None:
    assert await provider.surface_for("bytedance-seed/seedream-4.5") == "images"
    assert await provider.surface_for("google/gemini-3.1-flash-image-preview") == "chat"
    assert await provider.surface_for("bytedance-seed/seedream-4.5", "chat") == "chat"


async def test_the_catalogue_is_fetched_once_per_process(provider: OpenRouterProvider, emulator: Emulator) -> None:
    for _ in range(3):
        await provider.run(ProviderRequest(prompt="a kite", model="bytedance-seed/seedream-4.5"), Call())
    assert len([r for r in emulator.requests if r.path.endswith("/images/models")]) == 1


async def test_image_only_models_on_chat_ask_for_image_modality_only(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    result = await provider.run(
        ProviderRequest(prompt="a kite", model="black-forest-labs/flux.2-pro", surface="chat"), Call()
    )
    assert result.images and result.surface == "chat"
    chat = [r for r in emulator.requests if r.path.endswith("/chat/completions")][-1]
    assert chat.json["modalities"] == ["image"]


async def test_gemini_asks_for_image_and_text(provider: OpenRouterProvider, emulator: Emulator) -> None:
    await provider.run(
        ProviderRequest(prompt="a kite", model="google/gemini-2.5-flash-image", image_size="medium"), Call()
    )
    chat = [r for r in emulator.requests if r.path.endswith("/chat/completions")][-1]
    assert chat.json["modalities"] == ["image", "text"]
    assert chat.json["image_config"] == {"image_size": "2K"}


async def test_n_on_chat_is_n_calls_with_costs_summed(provider: OpenRouterProvider, emulator: Emulator) -> None:
    result = await provider.run(ProviderRequest(prompt="a kite", model="google/gemini-2.5-flash-image", n=3), Call())
    assert len(result.images) == 3
    assert posts(emulator).count("/api/v1/chat/completions") == 3
    assert result.cost_usd is not None and result.cost_usd > 0


async def test_a_retry_after_longer_than_the_budget_is_not_slept(
    provider: OpenRouterProvider, emulator: Emulator
) -> None:
    provider.retry_budget_s = 1.0
    emulator.push_fault(Fault("http", status=429, retry_after=60))
    with pytest.raises(e.RateLimitError) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="google/gemini-2.5-flash-image"), Call())
    assert info.value.retry_after == 60
    assert len(posts(emulator)) == 1


async def test_retry_after_is_honoured(provider: OpenRouterProvider, emulator: Emulator) -> None:
    emulator.push_fault(Fault("http", status=429, retry_after=1))
    call = Call()
    await provider.run(ProviderRequest(prompt="a kite", model="google/gemini-2.5-flash-image"), call)
    assert [(a.ok, a.error.code if a.error else None) for a in call.attempts] == [(False, "rate_limited"), (True, None)]
    first, second = [r for r in emulator.requests if r.method == "POST"]
    assert second.time_received - first.time_received >= 1.0


async def test_a_client_timeout_is_a_timeout_error(emulator: Emulator) -> None:
    emulator.set_fault(Fault("hang"))
    async with httpx2.AsyncClient(timeout=0.3) as http:
        provider = OpenRouterProvider(
            SharedClient(client=http), api_key=emulator.api_key, base_url=emulator.base_url, max_attempts=1
        )
        with pytest.raises(e.ProviderTimeoutError):
            await provider.run(ProviderRequest(prompt="a kite", model="google/gemini-2.5-flash-image"), Call())


def test_image_size_maps_to_each_familys_parameter() -> None:
    assert image_api_params("bytedance-seed/seedream-4.5", "high", {"resolution": {}}) == {"resolution": "4K"}
    assert image_api_params("openai/gpt-image-1", "low", {"quality": {}}) == {"quality": "low"}
    assert image_api_params("openai/gpt-image-1", None, {}) == {}
    assert chat_image_config("google/gemini-3-pro-image-preview", "medium", "16:9") == {
        "aspect_ratio": "16:9",
        "image_size": "2K",
    }
    assert chat_image_config("openai/gpt-5-image", "high", None) == {"quality": "high"}
