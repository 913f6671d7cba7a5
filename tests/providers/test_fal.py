"""The fal provider against the loopback fal queue emulator: submit, status (position, logs), result,
cancel, the sub-path trap, what each operation sends, refusals, money and keys."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.fal import FalProvider, app_path
from imagegen_mcp.providers.http import SharedClient
from tests.emulator.fal import FalEmulator
from tests.emulator.jobs import ForeignOrigin

pytestmark = pytest.mark.anyio


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


PICTURE = data_url(png(96, 64))


@pytest.fixture
async def http() -> AsyncIterator[SharedClient]:
    async with httpx2.AsyncClient(timeout=10) as client:
        yield SharedClient(client=client)


@pytest.fixture
def provider(fal_emu: FalEmulator, http: SharedClient) -> FalProvider:
    return FalProvider(http, api_key=fal_emu.api_key, queue_url=fal_emu.queue_url, poll_interval_s=0.01, backoff_s=0.01)


def request(**kw: Any) -> ProviderRequest:
    kw.setdefault("prompt", "a lighthouse at dusk")
    kw.setdefault("model", "fal-ai/flux/dev")
    return ProviderRequest(**kw)


def test_the_status_path_drops_the_endpoints_sub_path() -> None:
    assert app_path("fal-ai/flux/dev/image-to-image") == "fal-ai/flux"
    assert app_path("fal-ai/flux-pro/v1/fill") == "fal-ai/flux-pro"
    assert app_path("workflows/me/my-flow/run") == "workflows/me/my-flow"


async def test_a_generation_is_submitted_polled_with_logs_and_its_images_downloaded(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    fal_emu.queue_polls, fal_emu.progress_polls = 3, 2
    seen: list[tuple[float, str]] = []

    async def progress(value: float, total: float | None, message: str) -> None:
        seen.append((value, message))

    result = await provider.run(request(aspect_ratio="16:9", seed=3, n=2, output_format="png"), Call(progress))
    [submit] = fal_emu.submits()
    assert submit.path == "/fal-ai/flux/dev" and submit.headers["authorization"] == "<redacted>"
    assert submit.json == {
        "prompt": "a lighthouse at dusk",
        "seed": 3,
        "output_format": "png",
        "num_images": 2,
        "image_size": "landscape_16_9",
    }
    statuses = fal_emu.calls("/status")
    assert statuses and all(s.path.startswith("/fal-ai/flux/requests/") and s.query == "logs=1" for s in statuses)
    assert [size_of(i.data) for i in result.images] == [(1024, 576)] * 2
    assert result.cost_usd == pytest.approx(2 * 0.025) and result.generation_id in fal_emu.jobs
    messages = [m for _, m in seen]
    assert any("position 2" in m for m in messages) and any("running: step" in m for m in messages)
    assert [v for v, _ in seen] == sorted(v for v, _ in seen)


async def test_an_image_to_image_request_polls_without_the_sub_path(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    await provider.run(
        request(
            operation="edit", model="fal-ai/flux/dev/image-to-image", input_images=(PICTURE,), options={"strength": 0.4}
        ),
        Call(),
    )
    sent = fal_emu.submits()[0]
    assert sent.path == "/fal-ai/flux/dev/image-to-image" and sent.json["strength"] == 0.4
    assert sent.json["image_url"] == PICTURE  # a data URI, as fal takes it
    assert {r.path.rsplit("/requests/", 1)[0] for r in fal_emu.requests if "/requests/" in r.path} == {"/fal-ai/flux"}


async def test_a_host_cancel_mid_poll_sends_the_cancel_put(provider: FalProvider, fal_emu: FalEmulator) -> None:
    fal_emu.fault("hold")
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await provider.run(request(), Call())

        tg.start_soon(run)
        await anyio.to_thread.run_sync(fal_emu.wait_for_request, "/status")
        tg.cancel_scope.cancel()
    cancel = await anyio.to_thread.run_sync(fal_emu.wait_for_cancel)
    assert cancel.method == "PUT" and cancel.path.startswith("/fal-ai/flux/requests/") and cancel.status == 202


async def test_a_content_policy_violation_is_a_moderation_refusal(provider: FalProvider, fal_emu: FalEmulator) -> None:
    fal_emu.fault("content_policy")
    with pytest.raises(e.ModerationError) as caught:
        await provider.run(request(), Call())
    assert "content_policy_violation" in caught.value.message and fal_emu.api_key not in str(caught.value)


async def test_images_flagged_by_the_safety_checker_are_a_billed_refusal(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    fal_emu.fault("nsfw")
    call = Call()
    with pytest.raises(e.ModerationError, match="has_nsfw_concepts"):
        await provider.run(request(), call)
    assert call.cost_usd == pytest.approx(0.025)
    assert not fal_emu.calls(".jpg")  # flagged images are not even downloaded


async def test_a_422_detail_names_the_argument(provider: FalProvider, fal_emu: FalEmulator) -> None:
    with pytest.raises(e.BadRequestError, match="image_url: field required"):
        await provider.run(request(model="fal-ai/flux-pro/kontext", operation="edit", input_images=("",)), Call())


async def test_a_status_url_on_a_foreign_origin_is_never_fetched_and_the_job_is_cancelled(
    provider: FalProvider, fal_emu: FalEmulator, foreign: ForeignOrigin
) -> None:
    fal_emu.fault("foreign_status", url=foreign.url)
    with pytest.raises(e.InvalidResponseError) as caught:
        await provider.run(request(), Call())
    assert caught.value.code == "url_refused" and foreign.hits == []
    assert [c.status for c in fal_emu.cancels()] == [202]


async def test_an_expired_result_url_is_a_result_expired_error_with_the_cost(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    fal_emu.fault("expired_result")
    call = Call()
    with pytest.raises(e.ResultExpiredError):
        await provider.run(request(), call)
    assert call.cost_usd == pytest.approx(0.025)


async def test_429_is_retried_and_a_failed_result_is_a_fallback_class_error(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    fal_emu.fault("rate_limit")
    assert (await provider.run(request(), Call())).images
    assert [s.status for s in fal_emu.submits()] == [429, 200]
    fal_emu.fault("failed")
    with pytest.raises(e.ProviderDownError):
        await provider.run(request(), Call())


async def test_references_go_to_a_face_model_with_the_consistency_as_its_identity_weight(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    await provider.run(request(input_images=(PICTURE,), options={"consistency": "strict"}), Call())
    await provider.run(request(input_images=(PICTURE, PICTURE), options={"consistency": "loose"}), Call())
    one, many = fal_emu.submits()
    assert one.path == "/fal-ai/flux-pulid" and one.json["reference_image_url"] == PICTURE
    assert one.json["id_weight"] == 1.0
    assert many.path == "/fal-ai/pulid" and many.json["reference_images"] == [{"image_url": PICTURE}] * 2
    assert (many.json["id_scale"], many.json["mode"]) == (0.5, "extreme style")


async def test_a_baseline_alone_is_an_image_to_image_generation(provider: FalProvider, fal_emu: FalEmulator) -> None:
    await provider.run(request(input_images=(PICTURE,)), Call())
    assert fal_emu.submits()[0].path == "/fal-ai/flux/dev/image-to-image"


async def test_inpaint_erase_and_outpaint_go_to_fill(provider: FalProvider, fal_emu: FalEmulator) -> None:
    mask = data_url(masks.mask_from_box(96, 64, (0, 0, 0.5, 0.5)))
    fill = "fal-ai/flux-pro/v1/fill"
    await provider.run(request(model=fill, operation="inpaint", input_images=(PICTURE,), mask=mask), Call())
    await provider.run(request(model=fill, operation="erase", prompt="", input_images=(PICTURE,), mask=mask), Call())
    out = await provider.run(
        request(
            model=fill,
            operation="outpaint",
            prompt="",
            input_images=(PICTURE,),
            options={"expand": {"left": 32, "down": 16}},
        ),
        Call(),
    )
    inpaint, erase, outpaint = fal_emu.submits()
    assert inpaint.json["mask_url"] == mask and inpaint.json["prompt"] == "a lighthouse at dusk"
    assert erase.json["prompt"].startswith("Remove what is in the masked area")
    assert outpaint.json["prompt"].startswith("Extend this picture")
    assert size_of(out.images[0].data) == (128, 80)


async def test_variation_is_redux_and_style_transfer_is_kontext_multi_with_both_images(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    style = "https://example.test/style.png"
    await provider.run(
        request(model="fal-ai/flux/dev/redux", operation="variation", prompt="", input_images=(PICTURE,)), Call()
    )
    await provider.run(
        request(
            model="fal-ai/flux-pro/kontext/multi",
            operation="style_transfer",
            input_images=(PICTURE,),
            options={"style_image": style},
        ),
        Call(),
    )
    redux, multi = fal_emu.submits()
    assert redux.path == "/fal-ai/flux/dev/redux" and "prompt" not in redux.json
    assert multi.json["image_urls"] == [PICTURE, style] and multi.json["prompt"].startswith("Redraw the first")


async def test_upscale_fast_is_esrgan_and_creative_is_clarity_with_the_prompt(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    fast = await provider.run(
        request(
            model="fal-ai/esrgan",
            operation="upscale",
            prompt="",
            input_images=(PICTURE,),
            options={"scale": 4, "mode": "fast"},
        ),
        Call(),
    )
    await provider.run(
        request(
            model="fal-ai/esrgan",
            operation="upscale",
            prompt="crisp bricks",
            input_images=(PICTURE,),
            options={"scale": 2, "mode": "creative"},
        ),
        Call(),
    )
    esrgan, clarity = fal_emu.submits()
    assert esrgan.json == {"image_url": PICTURE, "scale": 4, "model": "RealESRGAN_x4plus"}
    assert size_of(fast.images[0].data) == (384, 256) and fast.cost_usd is None  # no documented price
    assert clarity.path == "/fal-ai/clarity-upscaler" and clarity.json["prompt"] == "crisp bricks"
    assert (clarity.json["upscale_factor"], clarity.json["creativity"]) == (2, 0.6)


async def test_what_the_endpoint_cannot_take_is_refused_before_any_request(
    provider: FalProvider, fal_emu: FalEmulator
) -> None:
    with pytest.raises(e.BadRequestError, match="webp"):
        await provider.run(request(output_format="webp"), Call())
    with pytest.raises(e.BadRequestError, match="takes no prompt"):
        await provider.run(
            request(model="fal-ai/flux/dev/redux", operation="variation", input_images=(PICTURE,)), Call()
        )
    with pytest.raises(e.BadRequestError, match="one image per call"):
        await provider.run(request(model="fal-ai/flux-pulid", n=2, input_images=(PICTURE,)), Call())
    assert fal_emu.submits() == []


async def test_a_bad_key_is_an_auth_error_that_never_shows_the_key(fal_emu: FalEmulator, http: SharedClient) -> None:
    provider = FalProvider(http, api_key="wrong:key-123456789", queue_url=fal_emu.queue_url)
    with pytest.raises(e.AuthError) as caught:
        await provider.run(request(), Call())
    assert "wrong:key-123456789" not in str(caught.value) and "FAL_KEY" in caught.value.fix
