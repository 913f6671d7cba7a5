"""The a1111 provider against the loopback AUTOMATIC1111 emulator: every operation's request, models and
checkpoint switching, progress beside the blocking call, interrupt on cancel, Basic auth, errors."""

from __future__ import annotations

import base64
import io
import json
import socket
from typing import Any

import anyio
import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.providers.a1111 import A1111Provider
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.http import SharedClient
from tests.emulator.a1111 import A1111Emulator

pytestmark = pytest.mark.anyio

PROMPT = "a lighthouse on a cliff at dusk, oil painting"


def png(width: int, height: int, mode: str = "RGB", colour: Any = (40, 90, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


CLIENTS: list[SharedClient] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> Any:
    yield
    while CLIENTS:
        await CLIENTS.pop().aclose()


def provider(emu: A1111Emulator, **kw: Any) -> A1111Provider:
    CLIENTS.append(SharedClient(10))
    return A1111Provider(CLIENTS[-1], base_url=emu.base_url, progress_interval_s=0.05, timeout_s=10, **kw)


def request(op: str = "generate", **kw: Any) -> ProviderRequest:
    kw.setdefault("model", "default")
    return ProviderRequest(prompt=kw.pop("prompt", PROMPT), operation=op, **kw)  # type: ignore[arg-type]


async def test_txt2img_uses_the_loaded_checkpoint_and_its_family_defaults(a1111: A1111Emulator) -> None:
    result = await provider(a1111).run(request(negative_prompt="blurry", seed=7, n=2), Call())
    [sent] = a1111.posts("/txt2img")
    body = sent.json
    assert (body["width"], body["height"], body["steps"], body["cfg_scale"]) == (512, 512, 25, 7.0)
    assert body["sampler_name"] == "DPM++ 2M Karras" and body["batch_size"] == 2
    assert body["negative_prompt"] == "blurry" and body["seed"] == 7
    assert "sd_model_checkpoint" not in body["override_settings"]  # the loaded one is kept
    assert result.model.startswith("v1-5-pruned-emaonly") and result.provider == "a1111"
    assert result.cost_usd == 0.0 and len(result.images) == 2
    assert result.metadata["info"]["seed"] == 7 and result.metadata["info"]["all_seeds"] == [7, 8]
    assert [size(i.data) for i in result.images] == [(512, 512), (512, 512)]


async def test_a_model_switches_the_checkpoint_for_this_request_only(a1111: A1111Emulator) -> None:
    result = await provider(a1111).run(request(model="sd_xl_base_1.0", aspect_ratio="16:9"), Call())
    body = a1111.posts("/txt2img")[0].json
    assert body["override_settings"]["sd_model_checkpoint"] == "sd_xl_base_1.0.safetensors [31e35c80fc]"
    assert body["override_settings_restore_afterwards"] is True
    assert (body["width"], body["height"], body["steps"]) == (1344, 768, 30)  # SDXL area, 16:9, ÷64
    assert result.model == "sd_xl_base_1.0.safetensors [31e35c80fc]"


async def test_an_unknown_checkpoint_is_refused_naming_it_before_any_generation(a1111: A1111Emulator) -> None:
    with pytest.raises(e.ModelNotFoundError) as caught:
        await provider(a1111).run(request(model="dreamshaper_8"), Call())
    assert "dreamshaper_8" in caught.value.message and "v1-5-pruned-emaonly" in caught.value.fix
    assert a1111.posts("/txt2img") == []


async def test_high_image_size_turns_on_the_hires_fix_and_jpeg_sets_the_samples_format(a1111: A1111Emulator) -> None:
    result = await provider(a1111).run(request(image_size="high", output_format="jpeg"), Call())
    body = a1111.posts("/txt2img")[0].json
    assert body["enable_hr"] is True and body["hr_scale"] == 1.5 and body["width"] == 512
    assert body["override_settings"]["samples_format"] == "jpg"
    assert result.images[0].mime_type == "image/jpeg" and size(result.images[0].data) == (768, 768)


async def test_edit_is_img2img_with_the_image_as_bare_base64_and_the_strength(a1111: A1111Emulator) -> None:
    image = png(300, 200)
    result = await provider(a1111).run(
        request("edit", prompt="make it winter", input_images=(data_url(image),), options={"strength": 0.4}), Call()
    )
    body = a1111.posts("/img2img")[0].json
    assert base64.b64decode(body["init_images"][0]) == image  # bare base64, the exact bytes
    assert body["denoising_strength"] == 0.4 and (body["width"], body["height"]) == (304, 200)
    assert "mask" not in body and result.metadata["endpoint"] == "/sdapi/v1/img2img"


async def test_variation_is_img2img_at_half_strength(a1111: A1111Emulator) -> None:
    await provider(a1111).run(request("variation", prompt="", input_images=(data_url(png(256, 256)),)), Call())
    assert a1111.posts("/img2img")[0].json["denoising_strength"] == 0.5


async def test_inpaint_sends_the_mask_white_to_change_with_blur_fill_and_full_res(a1111: A1111Emulator) -> None:
    image = png(256, 256)
    alpha_mask = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
    alpha_mask.paste((0, 0, 0, 0), (64, 64, 128, 128))  # OpenAI's convention: transparent = change
    buf = io.BytesIO()
    alpha_mask.save(buf, "PNG")
    await provider(a1111).run(
        request("inpaint", prompt="a red door", input_images=(data_url(image),), mask=data_url(buf.getvalue())), Call()
    )
    body = a1111.posts("/img2img")[0].json
    assert (body["mask_blur"], body["inpainting_fill"], body["inpaint_full_res"]) == (4, 1, True)
    assert body["inpainting_mask_invert"] == 0 and body["denoising_strength"] == 0.75
    with Image.open(io.BytesIO(base64.b64decode(body["mask"]))) as sent:
        assert sent.mode == "L" and sent.getpixel((96, 96)) == 255 and sent.getpixel((10, 10)) == 0


async def test_outpaint_sends_the_grown_canvas_and_its_border_as_the_mask(a1111: A1111Emulator) -> None:
    expand = {"left": 64, "right": 64, "up": 0, "down": 32}
    result = await provider(a1111).run(
        request("outpaint", prompt="more beach", input_images=(data_url(png(256, 192)),), options={"expand": expand}),
        Call(),
    )
    body = a1111.posts("/img2img")[0].json
    assert (body["width"], body["height"]) == (384, 224)
    assert (body["inpainting_fill"], body["inpaint_full_res"]) == (0, False)
    with Image.open(io.BytesIO(base64.b64decode(body["mask"]))) as mask:
        assert mask.size == (384, 224) and mask.getpixel((10, 100)) == 255 and mask.getpixel((192, 100)) == 0
    assert size(result.images[0].data) == (384, 224)


async def test_upscale_uses_extra_single_image_with_an_upscaler_the_server_lists(a1111: A1111Emulator) -> None:
    result = await provider(a1111).run(
        request("upscale", prompt="", input_images=(data_url(png(100, 80)),), options={"scale": 4, "mode": "fast"}),
        Call(),
    )
    body = a1111.posts("/extra-single-image")[0].json
    assert body["upscaler_1"] == "R-ESRGAN 4x+" and body["upscaling_resize"] == 4 and body["resize_mode"] == 0
    assert size(result.images[0].data) == (400, 320) and result.model == "R-ESRGAN 4x+"
    conservative = request(
        "upscale", input_images=(data_url(png(10, 10)),), options={"scale": 2, "mode": "conservative"}
    )
    assert (await provider(a1111).run(conservative, Call())).model == "SwinIR_4x"


async def test_an_upscaler_the_server_lacks_and_creative_mode_are_refused_before_any_job(a1111: A1111Emulator) -> None:
    image = (data_url(png(10, 10)),)
    with pytest.raises(e.ModelNotFoundError, match="4x-UltraSharp"):
        await provider(a1111).run(request("upscale", model="4x-UltraSharp", input_images=image), Call())
    with pytest.raises(e.BadRequestError, match="creative"):
        await provider(a1111).run(request("upscale", input_images=image, options={"mode": "creative"}), Call())
    assert a1111.posts("/extra-single-image") == []


async def test_progress_is_polled_beside_the_blocking_call_and_reported(a1111: A1111Emulator) -> None:
    a1111.step_s = 0.03
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str) -> None:
        seen.append(message)

    await provider(a1111).run(request(), Call(on_progress))
    steps = [m for m in seen if "step" in m]
    assert steps and all("%" in m for m in steps)
    polls = [r for r in a1111.requests if r.path == "/sdapi/v1/progress"]
    [job] = a1111.posts("/txt2img")
    assert polls and polls[0].time_received >= job.time_received  # polled while the job ran


async def test_jobs_from_two_requests_run_one_after_the_other(a1111: A1111Emulator) -> None:
    a1111.step_s = 0.01

    async def one() -> None:
        await provider(a1111).run(request(), Call())

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    (_, end1), (start2, _) = a1111.state.job_times
    assert len(a1111.posts("/txt2img")) == 2 and end1 <= start2  # the second waited for the lock


async def test_a_cancelled_call_interrupts_the_job_on_the_server(a1111: A1111Emulator) -> None:
    a1111.step_s = 0.2  # 25 steps: 5 s unless interrupted
    async with anyio.create_task_group() as tg:
        tg.start_soon(provider(a1111).run, request(), Call())
        await anyio.to_thread.run_sync(a1111.wait_for_job)
        tg.cancel_scope.cancel()
    await anyio.to_thread.run_sync(a1111.wait_idle, 2.0)
    assert a1111.interrupts == 1 and a1111.posts("/interrupt")


async def test_basic_auth_is_sent_and_a_refusal_names_the_variable_not_the_secret(a1111: A1111Emulator) -> None:
    a1111.state.auth = "artist:s3cret-pass"
    ok = await provider(a1111, auth="artist:s3cret-pass").run(request(), Call())
    assert ok.images
    with pytest.raises(e.AuthError) as caught:
        await provider(a1111, auth="artist:wrong-pass").run(request(), Call())
    assert "STABLE_DIFFUSION_LOCAL_AUTH" in caught.value.fix
    assert "wrong-pass" not in str(caught.value) and "s3cret" not in str(caught.value)


async def test_a_server_that_is_not_running_gets_the_start_command_as_the_fix() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    CLIENTS.append(SharedClient(5))
    dead = A1111Provider(CLIENTS[-1], base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(e.ConnectionFailedError) as caught:
        await dead.run(request(), Call())
    assert "./webui.sh --api" in caught.value.fix
    [check] = await dead.check(None)
    assert not check.ok and check.fix and "./webui.sh --api" in check.fix


async def test_preflight_lists_checkpoints_and_upscalers(a1111: A1111Emulator) -> None:
    checks = {c.name: c for c in await provider(a1111).check(None)}
    assert checks["server_reachable"].ok and "sd_xl_base_1.0" in checks["checkpoints"].detail
    assert "R-ESRGAN 4x+" in checks["upscalers"].detail
    models = {m.id for m in await provider(a1111).models()}
    assert {"default", "sd_xl_base_1.0.safetensors [31e35c80fc]", "SwinIR_4x"} <= models


async def test_errors_in_the_a1111_envelope_become_named_tool_errors(a1111: A1111Emulator) -> None:
    from imagegen_mcp.providers import a1111_wire as wire

    refused = wire.map_error(422, {"detail": [{"loc": ["body", "steps"], "msg": "not an integer"}]},
                             base_url="", model="x")  # fmt: skip
    assert isinstance(refused, e.BadRequestError) and "steps: not an integer" in refused.message
    crashed = wire.map_error(500, {"error": "OutOfMemoryError", "detail": "CUDA out of memory", "body": "",
                                   "errors": ""}, base_url="", model="x")  # fmt: skip
    assert isinstance(crashed, e.ProviderDownError) and "CUDA out of memory" in crashed.message
    assert json.loads(json.dumps(wire.info_of({"info": '{"seed": 3, "prompt": "p"}'}))) == {"seed": 3}


async def test_the_auth_variable_is_read_and_kept_secret_and_the_base_url_alone_configures(tmp_path: Any) -> None:
    from imagegen_mcp.config import Settings

    env = {
        "STABLE_DIFFUSION_LOCAL_BASE_URL": "http://127.0.0.1:7860",
        "STABLE_DIFFUSION_LOCAL_AUTH": "artist:a-long-secret",
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path),
    }
    settings = Settings.from_env(env)
    assert settings.provider == "auto"  # a configured local server makes routing automatic
    assert settings.provider_env["STABLE_DIFFUSION_LOCAL_AUTH"] == "artist:a-long-secret"
    assert "artist:a-long-secret" in settings.secrets()
    assert e.redact("said artist:a-long-secret", settings.secrets()) != "said artist:a-long-secret"
