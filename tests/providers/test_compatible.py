"""The compatible provider against the emulator in gateway mode: discovery, model lists, answers, envelopes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from imagegen_mcp import errors as e
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.compatible import CompatibleProvider
from imagegen_mcp.providers.http import SharedClient
from tests.emulator.openai import ModelSpec, OpenAIEmulator

pytestmark = pytest.mark.anyio

Make = Callable[..., CompatibleProvider]


def paths(emu: OpenAIEmulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emu.requests]


def generations(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path.endswith("/images/generations")]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    async with httpx2.AsyncClient(timeout=10) as client:
        http = SharedClient(client=client)

        def build(emu: OpenAIEmulator, base: str | None = None, **kw: Any) -> CompatibleProvider:
            return CompatibleProvider(http, api_key=emu.api_key, base_url=base or emu.root_url, backoff_s=0.01, **kw)

        yield build


async def test_a_bare_host_finds_the_api_under_v1_once_per_process(make: Make, gateway: OpenAIEmulator) -> None:
    provider = make(gateway, gateway.root_url)
    for _ in range(2):
        result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
        assert result.urls  # gateways answer with URLs, even for GPT image
    assert paths(gateway)[:2] == [("GET", "/models"), ("GET", "/v1/models")]
    assert [p for p in paths(gateway) if p[0] == "GET"] == [("GET", "/models"), ("GET", "/v1/models")]
    assert [p for _, p in paths(gateway) if _ == "POST"] == ["/v1/images/generations"] * 2


async def test_a_base_with_v1_is_used_as_given(make: Make, gateway: OpenAIEmulator) -> None:
    provider = make(gateway, gateway.base_url)
    await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert paths(gateway)[0] == ("GET", "/v1/models")
    assert ("GET", "/models") not in paths(gateway)


async def test_a_gateway_at_the_root_is_used_without_v1(make: Make, root_gateway: OpenAIEmulator) -> None:
    provider = make(root_gateway, root_gateway.root_url)
    await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert paths(root_gateway) == [("GET", "/models"), ("POST", "/images/generations")]


async def test_without_models_the_images_endpoint_is_probed_without_generating(
    make: Make, gateway: OpenAIEmulator
) -> None:
    gateway.models_route = "missing"
    provider = make(gateway, gateway.root_url)
    assert await provider.api_base() == gateway.base_url
    probes = generations(gateway)
    assert [p.path for p in probes] == ["/images/generations", "/v1/images/generations"]
    assert [p.status for p in probes] == [404, 400]
    assert probes[1].json == {}  # no prompt: nothing can be generated, nothing billed
    assert await provider.image_models() is None
    assert await provider.knows_model("flux-pro") and not await provider.knows_model("deepseek-chat")
    result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert result.urls


async def test_no_api_at_either_base_is_a_clear_error(make: Make, gateway: OpenAIEmulator) -> None:
    gateway.models_route = "missing"
    provider = make(gateway, f"{gateway.root_url}/nothing-here")
    with pytest.raises(e.ModelNotFoundError) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert info.value.code == "endpoint_not_found" and "IMAGE_BASE_URL" in info.value.fix


async def test_an_unfiltered_list_is_filtered_to_image_models(make: Make, gateway: OpenAIEmulator) -> None:
    provider = make(gateway)
    ids = [m.id for m in await provider.models()]
    assert "gpt-image-2" in ids and "dall-e-3" in ids
    assert not {"gpt-4o-mini", "deepseek-chat", "claude-sonnet-4", "text-embedding-3-small"} & set(ids)
    assert not await provider.knows_model("deepseek-chat")


async def test_the_default_stands_for_the_gateways_first_image_model_when_it_lacks_gpt_image_2(
    make: Make, gateway: OpenAIEmulator
) -> None:
    gateway.models = [ModelSpec("seedream-4.0"), ModelSpec("flux-kontext-pro")]
    provider = make(gateway)
    assert provider.capabilities.default_models["generate"] == "gpt-image-2"
    result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert result.model == "seedream-4.0"
    assert generations(gateway)[-1].json["model"] == "seedream-4.0"


async def test_an_unknown_gateway_model_refuses_arguments_a_gateway_would_drop(
    make: Make, gateway: OpenAIEmulator
) -> None:
    gateway.models = [ModelSpec("flux-kontext-pro")]
    provider = make(gateway)
    request = ProviderRequest(prompt="a kite", model="flux-kontext-pro", background="transparent")
    with pytest.raises(e.BadRequestError, match="cannot honour background"):
        await provider.run(request, Call())
    assert generations(gateway) == []


async def test_gateway_answers_report_no_cost(make: Make, gateway: OpenAIEmulator) -> None:
    call = Call()
    result = await make(gateway).run(ProviderRequest(prompt="a kite", model="gpt-image-1.5", image_size="low"), call)
    assert result.urls and result.cost_usd is None and call.cost_usd is None


async def test_b64_answers_from_a_gateway_are_images(make: Make, openai_emu: OpenAIEmulator) -> None:
    result = await make(openai_emu, openai_emu.root_url).run(
        ProviderRequest(prompt="a kite", model="gpt-image-2"), Call()
    )
    assert result.images and not result.urls


@pytest.mark.parametrize("style", ["code_msg", "string"])
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("moderation", e.ModerationError),
        ("rate_limit", e.RateLimitError),
        ("no_credits", e.CreditsError),
        ("server_error", e.ProviderDownError),
        ("model_not_found", e.ModelNotFoundError),
    ],
)
async def test_other_envelopes_map_by_status(
    make: Make, gateway: OpenAIEmulator, style: str, kind: str, error: type[e.ProviderError]
) -> None:
    gateway.error_style = style
    gateway.fault(kind, times=None)
    provider = make(gateway)
    provider.max_attempts = 1
    with pytest.raises(error) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert type(info.value) is error and info.value.message.startswith("The image gateway")


async def test_a_wrong_key_names_image_api_key(make: Make, gateway: OpenAIEmulator) -> None:
    provider = CompatibleProvider(make(gateway).http, api_key="sk-wrong-0123456789abc", base_url=gateway.root_url)
    with pytest.raises(e.AuthError) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert "IMAGE_API_KEY" in info.value.fix and "sk-wrong-0123456789abc" not in str(info.value)
    assert generations(gateway) == []  # found out during discovery, before any image request


async def test_a_gateways_shorter_prompt_limit_is_a_bad_request_naming_prompt(
    make: Make, gateway: OpenAIEmulator
) -> None:
    with pytest.raises(e.BadRequestError) as info:
        await make(gateway).run(ProviderRequest(prompt="a kite " * 200, model="gpt-image-2"), Call())
    assert info.value.fix.startswith("shorten prompt")


async def test_preflight_reports_how_the_gateway_was_found(make: Make, gateway: OpenAIEmulator) -> None:
    checks = {c.name: c for c in await make(gateway).check(None)}
    assert checks["api_key_present"].ok and gateway.api_key not in checks["api_key_present"].detail
    assert checks["api_reachable"].ok and gateway.base_url in checks["api_reachable"].detail
    assert checks["model"].ok
    gateway.models = [ModelSpec("seedream-4.0")]
    missing = {c.name: c for c in await make(gateway).check("flux-pro")}["model"]
    assert not missing.ok and missing.fix == "pass model='seedream-4.0'"
