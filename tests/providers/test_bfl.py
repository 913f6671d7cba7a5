"""The bfl provider against the loopback BFL emulator: what each operation sends, the polling_url it
follows (and the one it refuses), every get_result status, money and keys."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.bfl import BFLProvider
from imagegen_mcp.providers.http import SharedClient
from tests.emulator.bfl import BFLEmulator
from tests.emulator.jobs import ForeignOrigin

pytestmark = pytest.mark.anyio


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


PICTURE = png(96, 64)


@pytest.fixture
async def http() -> AsyncIterator[SharedClient]:
    async with httpx2.AsyncClient(timeout=10) as client:
        yield SharedClient(client=client)


@pytest.fixture
def provider(bfl_emu: BFLEmulator, http: SharedClient) -> BFLProvider:
    return BFLProvider(http, api_key=bfl_emu.api_key, base_url=bfl_emu.base_url, poll_interval_s=0.01, backoff_s=0.01)


def request(**kw: Any) -> ProviderRequest:
    kw.setdefault("prompt", "a lighthouse at dusk")
    kw.setdefault("model", "flux-pro-1.1")
    return ProviderRequest(**kw)


async def test_a_generation_polls_the_returned_polling_url_and_downloads_the_sample_at_once(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    bfl_emu.pending_polls = 3
    seen: list[tuple[float, str]] = []

    async def progress(value: float, total: float | None, message: str) -> None:
        seen.append((value, message))

    result = await provider.run(request(aspect_ratio="16:9", image_size="high", seed=7), Call(progress))
    [submit] = bfl_emu.submits()
    assert submit.path == "/v1/flux-pro-1.1" and submit.headers["x-key"] == "<redacted>"
    assert submit.json == {"prompt": "a lighthouse at dusk", "seed": 7, "width": 1440, "height": 800}
    polls = bfl_emu.polls()
    assert len(polls) == 4 and all(p.host.startswith("localhost:") for p in polls)  # the URL it was given
    [image] = result.images
    with Image.open(io.BytesIO(image.data)) as img:
        assert img.size == (1440, 800)
    assert result.cost_usd == pytest.approx(0.04) and result.generation_id in bfl_emu.tasks
    assert [v for v, _ in seen] == sorted(v for v, _ in seen) and any("%" in m for _, m in seen)


async def test_the_price_table_is_used_when_the_answer_carries_no_cost_and_flux2_is_priced_per_megapixel(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    bfl_emu.send_cost = False
    result = await provider.run(request(model="flux-2-pro", aspect_ratio="1:1", image_size="high"), Call())
    assert bfl_emu.submits()[0].json["width"] == 2000  # ÷16, scaled to 4 MP
    assert result.cost_usd == pytest.approx((3 + 1.5 * 3) * 0.01)


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("request_moderated", e.ModerationError, "moderation_flagged"),
        ("content_moderated", e.ModerationError, "moderation_flagged"),
        ("error", e.ProviderDownError, "generation_failed"),
        ("task_not_found", e.ProviderDownError, "task_not_found"),
    ],
)
async def test_every_final_get_result_status_becomes_its_own_error_and_nothing_is_charged(
    provider: BFLProvider, bfl_emu: BFLEmulator, fault: str, error: type[e.ProviderError], code: str
) -> None:
    bfl_emu.fault(fault)
    call = Call()
    with pytest.raises(error) as caught:
        await provider.run(request(), call)
    assert caught.value.code == code and caught.value.cost_usd is None
    [attempt] = call.attempts
    assert not attempt.ok and attempt.cost_usd is None
    assert bfl_emu.api_key not in caught.value.message


async def test_a_polling_url_on_a_foreign_plain_http_origin_is_refused_and_never_fetched(
    provider: BFLProvider, bfl_emu: BFLEmulator, foreign: ForeignOrigin
) -> None:
    bfl_emu.fault("foreign_polling", url=foreign.url)
    with pytest.raises(e.InvalidResponseError) as caught:
        await provider.run(request(), Call())
    assert caught.value.code == "url_refused" and "polling_url" in caught.value.message
    assert foreign.hits == [] and bfl_emu.polls() == []


async def test_a_sample_on_a_foreign_origin_is_refused_and_never_fetched(
    provider: BFLProvider, bfl_emu: BFLEmulator, foreign: ForeignOrigin
) -> None:
    bfl_emu.fault("foreign_result", url=foreign.url)
    with pytest.raises(e.InvalidResponseError) as caught:
        await provider.run(request(), Call())
    assert caught.value.code == "url_refused" and foreign.hits == []


async def test_an_expired_sample_is_a_result_expired_error_that_still_counts_the_billed_task(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    bfl_emu.fault("expired_result")
    call = Call()
    with pytest.raises(e.ResultExpiredError):
        await provider.run(request(), call)
    assert call.cost_usd == pytest.approx(0.04)


async def test_429_over_the_active_task_limit_is_retried_and_402_is_a_credits_error(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    bfl_emu.fault("rate_limit")
    result = await provider.run(request(), Call())
    assert [s.status for s in bfl_emu.submits()] == [429, 200] and result.images
    bfl_emu.fault("no_credits")
    with pytest.raises(e.CreditsError):
        await provider.run(request(), Call())


async def test_kontext_max_refuses_a_seventh_active_task(provider: BFLProvider, bfl_emu: BFLEmulator) -> None:
    bfl_emu.pending_polls = 100
    async with httpx2.AsyncClient(base_url=bfl_emu.base_url, headers={"x-key": bfl_emu.api_key}) as raw:
        codes = [
            (
                await raw.post("/v1/flux-kontext-max", json={"prompt": "x", "input_image": "https://x.test/a.png"})
            ).status_code
            for _ in range(7)
        ]
    assert codes == [200] * 6 + [429]


async def test_n_images_are_n_tasks_each_its_own_attempt_with_the_costs_summed(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    call = Call()
    result = await provider.run(request(n=2), call)
    assert len(result.images) == 2 and len(bfl_emu.submits()) == 2
    assert [a.ok for a in call.attempts] == [True, True] and call.cost_usd == pytest.approx(0.08)


async def test_references_go_to_kontext_as_input_images_in_order_with_the_consistency_instruction(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    refs = (data_url(PICTURE), "https://example.test/face.png")
    await provider.run(request(input_images=refs, options={"consistency": "strict"}), Call())
    [submit] = bfl_emu.submits()
    assert submit.path == "/v1/flux-kontext-pro"
    assert submit.json["input_image"] == base64.b64encode(PICTURE).decode()
    assert submit.json["input_image_2"] == "https://example.test/face.png"
    assert submit.json["prompt"].startswith("a lighthouse at dusk Keep the subject")


async def test_inpaint_sends_image_and_mask_as_base64_with_our_white_means_change_polarity(
    provider: BFLProvider, bfl_emu: BFLEmulator
) -> None:
    mask = masks.mask_from_box(96, 64, (0, 0, 0.5, 0.5))
    await provider.run(
        request(model="flux-pro-1.0-fill", operation="inpaint", input_images=(data_url(PICTURE),), mask=data_url(mask)),
        Call(),
    )
    [submit] = bfl_emu.submits()
    assert submit.path == "/v1/flux-pro-1.0-fill"
    assert base64.b64decode(submit.json["mask"]) == mask and base64.b64decode(submit.json["image"]) == PICTURE


async def test_outpaint_maps_expand_to_the_expand_endpoints_sides(provider: BFLProvider, bfl_emu: BFLEmulator) -> None:
    result = await provider.run(
        request(
            model="flux-pro-1.0-expand",
            operation="outpaint",
            input_images=(data_url(PICTURE),),
            options={"expand": {"left": 32, "right": 32, "up": 0, "down": 16}},
        ),
        Call(),
    )
    sent = bfl_emu.submits()[0].json
    assert (sent["left"], sent["right"], sent["top"], sent["bottom"]) == (32, 32, 0, 16)
    with Image.open(io.BytesIO(result.images[0].data)) as img:
        assert img.size == (160, 80)


async def test_variation_uses_ultra_with_the_image_as_image_prompt(provider: BFLProvider, bfl_emu: BFLEmulator) -> None:
    await provider.run(
        request(
            model="flux-pro-1.1-ultra",
            operation="variation",
            prompt="",
            input_images=(data_url(PICTURE),),
            options={"strength": 0.3},
        ),
        Call(),
    )
    sent = bfl_emu.submits()[0].json
    assert sent["image_prompt_strength"] == 0.7 and sent["prompt"].startswith("Make a variation")


async def test_what_bfl_cannot_make_is_refused_before_any_request(provider: BFLProvider, bfl_emu: BFLEmulator) -> None:
    with pytest.raises(e.BadRequestError, match="webp"):
        await provider.run(request(output_format="webp"), Call())
    with pytest.raises(e.BadRequestError, match="image_size"):
        await provider.run(request(model="flux-kontext-pro", image_size="high"), Call())
    with pytest.raises(e.BadRequestError, match="takes at most 4"):
        await provider.run(request(input_images=(data_url(PICTURE),) * 5), Call())
    assert bfl_emu.submits() == []


async def test_a_bad_key_is_an_auth_error_that_never_shows_the_key(bfl_emu: BFLEmulator, http: SharedClient) -> None:
    provider = BFLProvider(http, api_key="wrong-key-123456789", base_url=bfl_emu.base_url)
    with pytest.raises(e.AuthError) as caught:
        await provider.run(request(), Call())
    assert "wrong-key-123456789" not in str(caught.value) and "BFL_API_KEY" in caught.value.fix
