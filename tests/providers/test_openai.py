"""The openai provider against the loopback OpenAI emulator: bodies, uploads, models, money, errors, retries."""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.providers import openai_catalogue
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.openai import OpenAIProvider
from tests.emulator.openai import ModelSpec, OpenAIEmulator

pytestmark = pytest.mark.anyio


def png(width: int = 64, height: int = 64, colour: Any = (10, 120, 200), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def image_posts(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.api_path.startswith("/images/")]


@pytest.fixture
async def http() -> AsyncIterator[SharedClient]:
    async with httpx2.AsyncClient(timeout=10) as client:
        yield SharedClient(client=client)


@pytest.fixture
def provider(openai_emu: OpenAIEmulator, http: SharedClient) -> OpenAIProvider:
    return OpenAIProvider(http, api_key=openai_emu.api_key, base_url=openai_emu.base_url, backoff_s=0.01)


async def test_the_default_model_is_gpt_image_2_and_aspect_ratio_and_image_size_map_to_size_and_quality(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    assert provider.capabilities.default_models["generate"] == "gpt-image-2"
    request = ProviderRequest(prompt="a kite", model="gpt-image-2", aspect_ratio="16:9", image_size="low")
    call = Call()
    result = await provider.run(request, call)
    [sent] = image_posts(openai_emu)
    assert sent.api_path == "/images/generations"
    assert sent.json == {"model": "gpt-image-2", "prompt": "a kite", "size": "1536x864", "quality": "low"}
    [image] = result.images
    assert Image.open(io.BytesIO(image.data)).size == (1536, 864)
    # gpt-image-2's price is not verified: no cost is invented.
    assert result.cost_usd is None
    assert [(a.provider, a.model, a.ok) for a in call.attempts] == [("openai", "gpt-image-2", True)]


async def test_fixed_size_models_get_the_nearest_size_and_impossible_ratios_are_refused(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    spec = provider.catalogue.models["gpt-image-1.5"]
    assert spec.size_for("16:9") == "1536x1024" and spec.size_for("9:16") == "1024x1536"
    assert spec.size_for("1:1") == "1024x1024"
    with pytest.raises(e.BadRequestError, match="21:9"):
        spec.size_for("21:9")
    with pytest.raises(e.BadRequestError, match="aspect ratios from 1:3"):
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2", aspect_ratio="4:1"), Call())
    assert image_posts(openai_emu) == []


async def test_a_priced_model_reports_its_cost_from_the_answer(provider: OpenAIProvider) -> None:
    request = ProviderRequest(prompt="a kite", model="gpt-image-1.5", image_size="medium", n=2)
    result = await provider.run(request, Call())
    assert len(result.images) == 2
    assert result.cost_usd == pytest.approx(2 * 0.034)


async def test_per_token_prices_are_used_with_usage(provider: OpenAIProvider, openai_emu: OpenAIEmulator) -> None:
    result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-1-mini", image_size="low"), Call())
    text_tokens = max(1, len("a kite") // 4)
    assert result.cost_usd == pytest.approx((text_tokens * 2.0 + 272 * 8.0) / 1_000_000)


async def test_a_model_past_its_shutdown_date_is_refused_before_any_request_unless_still_listed(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.models = [m for m in openai_emu.models if m.id != "gpt-image-1"]
    with pytest.raises(e.ModelNotFoundError) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-1"), Call())
    assert "2026-10-23" in info.value.message and "gpt-image-2" in info.value.fix
    assert image_posts(openai_emu) == []
    # gpt-image-1.5 shut down on 2026-12-01 too, but this API still lists it: it is used.
    result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-1.5"), Call())
    assert result.images and result.model == "gpt-image-1.5"


async def test_the_shutdown_dates_come_from_the_data_file(http: SharedClient, openai_emu: OpenAIEmulator) -> None:
    before = OpenAIProvider(http, api_key="k", base_url=openai_emu.base_url, today=datetime.date(2026, 11, 1))
    after = OpenAIProvider(http, api_key="k", base_url=openai_emu.base_url, today=datetime.date(2026, 12, 5))
    assert before.catalogue.models["gpt-image-1-mini"].live(before.today)
    assert not after.catalogue.models["gpt-image-1-mini"].live(after.today)
    assert not after.catalogue.models["gpt-image-1"].live(after.today)


async def test_input_images_go_to_edits_as_repeated_image_parts_with_their_exact_bytes(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    first, second = png(64, 64, (200, 10, 10)), png(64, 64, (10, 200, 10))
    request = ProviderRequest(
        prompt="merge them", model="gpt-image-2", input_images=(data_url(first), data_url(second))
    )
    result = await provider.run(request, Call())
    [sent] = image_posts(openai_emu)
    assert sent.api_path == "/images/edits"
    assert [p.name for p in sent.parts] == ["image[]", "image[]"]
    assert [p.sha256 for p in sent.parts] == [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()]
    assert sent.fields["model"] == ["gpt-image-2"] and sent.fields["prompt"] == ["merge them"]
    assert result.images


async def test_an_http_input_image_is_refused_before_any_request(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    request = ProviderRequest(prompt="edit", model="gpt-image-2", operation="edit",
                              input_images=(f"{openai_emu.root_url}/files/x.png",))  # fmt: skip
    with pytest.raises(e.BadRequestError, match="nothing was sent"):
        await provider.run(request, Call())
    assert image_posts(openai_emu) == []


async def test_a_white_means_change_mask_is_sent_as_an_alpha_mask_the_size_of_the_image(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))  # left half: change
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    request = ProviderRequest(prompt="a window", model="gpt-image-2", operation="inpaint",
                              input_images=(data_url(png(64, 64)),), mask=data_url(buf.getvalue()))  # fmt: skip
    await provider.run(request, Call())
    [sent] = image_posts(openai_emu)
    part = next(p for p in sent.parts if p.name == "mask")
    assert (part.width, part.height, part.mode) == (64, 64, "RGBA")


def test_mask_conversion_makes_white_transparent_and_keeps_a_transparent_mask() -> None:
    from imagegen_mcp.providers.openai_operations import openai_mask

    white_left = Image.new("L", (4, 2), 0)
    white_left.paste(255, (0, 0, 2, 2))
    buf = io.BytesIO()
    white_left.save(buf, "PNG")
    out = Image.open(io.BytesIO(openai_mask(buf.getvalue(), (4, 2))))
    assert [out.getpixel((x, 0))[3] for x in range(4)] == [0, 0, 255, 255]  # type: ignore[index]
    holes = Image.new("RGBA", (4, 2), (9, 9, 9, 255))
    holes.putpixel((3, 1), (9, 9, 9, 0))
    buf = io.BytesIO()
    holes.save(buf, "PNG")
    out = Image.open(io.BytesIO(openai_mask(buf.getvalue(), (4, 2))))
    assert out.getpixel((3, 1))[3] == 0 and out.getpixel((0, 0))[3] == 255  # type: ignore[index]


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (ProviderRequest(prompt="p", model="gpt-image-2", background="transparent", output_format="jpeg"), "alpha"),
        (ProviderRequest(prompt="p", model="gpt-image-2", n=11), "n=11"),
        (ProviderRequest(prompt="p" * 32001, model="gpt-image-2"), "32000"),
        (ProviderRequest(prompt="p", model="dall-e-3", background="opaque"), "cannot honour background"),
        (ProviderRequest(prompt="p", model="gpt-image-2", operation="inpaint", input_images=("data:,",)), "mask"),
    ],
)
async def test_what_a_model_cannot_honour_is_refused_before_any_request(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator, request_: ProviderRequest, match: str
) -> None:
    with pytest.raises(e.BadRequestError, match=match) as info:
        await provider.run(request_, Call())
    assert "nothing was sent" in info.value.message
    assert image_posts(openai_emu) == []


async def test_background_output_format_and_gpt_options_pass_through(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    options = {"output_compression": 80, "moderation": "low"}
    request = ProviderRequest(prompt="a logo", model="gpt-image-2.5-flare", background="transparent",
                              output_format="webp", options=options)  # fmt: skip
    result = await provider.run(request, Call())
    [sent] = image_posts(openai_emu)
    assert sent.json["background"] == "transparent" and sent.json["output_format"] == "webp"
    assert sent.json["output_compression"] == 80 and sent.json["moderation"] == "low"
    assert result.images[0].mime_type == "image/webp"


async def test_capabilities_declare_the_edit_operations_and_leave_out_what_no_model_honours(
    provider: OpenAIProvider,
) -> None:
    caps = provider.capabilities
    assert set(caps.operations) == {
        "generate", "edit", "inpaint", "outpaint", "erase", "style_transfer", "variation", "remove_background"
    }  # fmt: skip
    assert {"seed", "negative_prompt", "surface", "mask", "strength"}.isdisjoint(caps.operations["generate"])
    assert "mask" in caps.operations["inpaint"] and "mask" not in caps.operations["edit"]
    assert "upscale" not in caps.operations
    # gpt-image-2 cannot make transparency: background removal defaults to a model that can.
    assert caps.default_models["variation"] == "gpt-image-2"
    assert caps.default_models["remove_background"] == "gpt-image-2.5-sunburst"


async def test_dall_e_2_variations_go_to_the_variations_endpoint_when_it_is_live(
    http: SharedClient, openai_emu: OpenAIEmulator
) -> None:
    data = json.loads(_shipped_text())
    data["models"]["dall-e-2"]["shutdown_date"] = None
    catalogue = openai_catalogue.parse(json.dumps(data))
    provider = OpenAIProvider(http, api_key=openai_emu.api_key, base_url=openai_emu.base_url, catalogue=catalogue)
    source = png(64, 64)
    request = ProviderRequest(prompt="", model="dall-e-2", operation="variation", input_images=(data_url(source),))
    result = await provider.run(request, Call())
    [sent] = image_posts(openai_emu)
    assert sent.api_path == "/images/variations"
    assert [(p.name, p.sha256) for p in sent.parts] == [("image", hashlib.sha256(source).hexdigest())]
    assert result.urls and result.cost_usd == pytest.approx(0.02)  # DALL·E answers with URLs


def _shipped_text() -> str:
    from importlib import resources

    return resources.files("imagegen_mcp.providers").joinpath("data/openai_models.json").read_text("utf-8")


# --------------------------------------------------------------------------- errors and retries


@pytest.mark.parametrize(
    ("kind", "options", "error", "fix_has"),
    [
        ("moderation", {}, e.ModerationError, "rephrase"),
        ("insufficient_quota", {}, e.CreditsError, "OPENAI_API_KEY"),
        ("no_credits", {}, e.CreditsError, "credits"),
        ("model_not_found", {}, e.ModelNotFoundError, "model"),
        ("truncated", {}, e.InvalidResponseError, "OPENAI_BASE_URL"),
        ("html", {}, e.InvalidResponseError, "OPENAI_BASE_URL"),
    ],
)
async def test_each_error_maps_to_its_class_and_is_not_retried(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator, kind: str, options: dict[str, Any],
    error: type[e.ProviderError], fix_has: str,
) -> None:  # fmt: skip
    openai_emu.fault(kind, times=None, **options)
    call = Call()
    with pytest.raises(error) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), call)
    assert type(info.value) is error
    assert fix_has in info.value.fix
    assert len(image_posts(openai_emu)) == 1
    assert [a.error.code if a.error else None for a in call.attempts] == [info.value.code]


async def test_moderation_carries_its_categories(provider: OpenAIProvider, openai_emu: OpenAIEmulator) -> None:
    openai_emu.fault("moderation", stage="output")
    with pytest.raises(e.ModerationError) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert "output stage" in info.value.message and info.value.reasons


async def test_a_wrong_key_is_an_auth_error_naming_the_variable_and_not_the_key(
    http: SharedClient, openai_emu: OpenAIEmulator
) -> None:
    wrong = "sk-proj-wrong-key-0123456789"
    provider = OpenAIProvider(http, api_key=wrong, base_url=openai_emu.base_url)
    with pytest.raises(e.AuthError) as info:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert "export OPENAI_API_KEY=" in info.value.fix
    assert wrong not in str(info.value)


async def test_server_errors_are_retried_then_reported_with_every_attempt(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.fault("server_error", times=None, status=503)
    call = Call()
    with pytest.raises(e.ProviderDownError):
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), call)
    assert len(image_posts(openai_emu)) == provider.max_attempts == len(call.attempts)


async def test_a_bad_parameter_is_a_bad_request_naming_it(provider: OpenAIProvider, openai_emu: OpenAIEmulator) -> None:
    request = ProviderRequest(prompt="a kite", model="gpt-image-2", options={"output_compression": 500})
    with pytest.raises(e.BadRequestError) as info:
        await provider.run(request, Call())
    assert "output_compression" in info.value.fix
    assert len(image_posts(openai_emu)) == 1


async def test_a_429_is_retried_after_its_retry_after_ms(provider: OpenAIProvider, openai_emu: OpenAIEmulator) -> None:
    # retry-after says 0 s (rounded) while retry-after-ms says 400 ms: the precise one is honoured.
    openai_emu.fault("rate_limit", retry_after=0.4)
    call = Call()
    result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), call)
    first, second = image_posts(openai_emu)
    assert second.time_received - first.time_received >= 0.4
    assert [(a.ok, a.error.code if a.error else None) for a in call.attempts] == [(False, "rate_limited"), (True, None)]
    assert result.images


def test_waits_are_read_from_retry_after_ms_retry_after_or_the_rate_limit_reset() -> None:
    from imagegen_mcp.providers.openai_wire import duration, retry_after

    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"x-ratelimit-reset-requests": "6m0s"}) == 360.0
    assert duration("12ms") == pytest.approx(0.012) and duration("1s") == 1.0 and duration("1h2m3.5s") == 3723.5
    assert duration("soon") is None and retry_after({}) is None


async def test_a_hidden_error_in_a_200_is_handled_by_its_own_code() -> None:
    from imagegen_mcp.providers.openai_wire import Who, hidden_error, map_error

    who = Who("OpenAI", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    body = {"error": {"message": "rejected by the safety system", "code": "moderation_blocked"}}
    assert isinstance(map_error(200, hidden_error(body), {}, who=who, model="m"), e.ModerationError)
    assert isinstance(map_error(200, hidden_error({"code": 429, "msg": "slow down"}), {}, who=who, model="m"),
                      e.RateLimitError)  # fmt: skip


# --------------------------------------------------------------------------- models and preflight


async def test_models_list_the_live_ones_and_new_image_models_the_api_lists(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.add_model(ModelSpec("gpt-image-2.5-sunburst", any_size=True))
    ids = [m.id for m in await provider.models()]
    assert "gpt-image-2" in ids and "gpt-image-2.5-sunburst" in ids
    assert await provider.knows_model("gpt-image-2.5-sunburst")
    assert not await provider.knows_model("google/gemini-3.1-flash-image-preview")
    result = await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2.5-sunburst"), Call())
    assert result.images and result.cost_usd is None


async def test_preflight_masks_the_key_and_checks_the_model(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    openai_emu.models = [m for m in openai_emu.models if m.id != "gpt-image-1"]
    checks = {c.name: c for c in await provider.check(None)}
    assert checks["api_key_present"].ok and openai_emu.api_key not in checks["api_key_present"].detail
    assert checks["api_reachable"].ok and checks["model"].ok
    dead = {c.name: c for c in await provider.check("gpt-image-1")}["model"]
    assert not dead.ok and dead.fix and "gpt-image-2" in dead.fix


async def test_cancelling_the_call_stops_the_upstream_request(
    provider: OpenAIProvider, openai_emu: OpenAIEmulator
) -> None:
    import anyio

    openai_emu.fault("hang")
    with anyio.move_on_after(0.5) as scope:
        await provider.run(ProviderRequest(prompt="a kite", model="gpt-image-2"), Call())
    assert scope.cancelled_caught
    [cancelled] = openai_emu.wait_for_cancelled()
    assert cancelled.api_path == "/images/generations"
