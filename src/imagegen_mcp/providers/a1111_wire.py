"""AUTOMATIC1111 (and Forge) wire format: request bodies per operation, the answer's ``info``, errors.

``reference/providers.md`` §6a. Every body is JSON; images go in and out as bare base64.

=============  ==============================================================================================
operation      request
=============  ==============================================================================================
``generate``   ``POST /sdapi/v1/txt2img``; with an input image (a v1 baseline) ``img2img`` at strength 0.6
``edit``       ``POST /sdapi/v1/img2img``: the image as ``init_images[0]``, the prompt, ``denoising_strength``
               = ``strength`` (default 0.6), the image's own size (rounded to 8 px)
``variation``  the same at strength 0.5 (the prompt may be empty)
``inpaint``    ``img2img`` + ``mask`` (white = change, as ours), ``mask_blur`` 4, ``inpainting_fill`` 1
               (original), ``inpaint_full_res`` true (only the masked area, at full resolution) with 32 px
               padding, strength 0.75
``outpaint``   the canvas of :func:`imaging.masks.outpaint_canvas` as the image and its border as the mask,
               ``inpainting_fill`` 0 (fill from the surroundings), ``inpaint_full_res`` false, ``mask_blur`` 8,
               strength 0.85, the canvas size
``upscale``    ``POST /sdapi/v1/extra-single-image``: ``upscaling_resize`` = ``scale``, ``upscaler_1`` = the
               model (an upscaler the server lists; by ``mode``: see :data:`UPSCALERS`)
=============  ==============================================================================================

``options["mask_blur"|"inpainting_fill"|"inpaint_full_res"]``, when a caller sets them, replace those
defaults. ``image_size: high`` on txt2img turns on A1111's hires fix (``enable_hr``, ``hr_scale`` 1.5,
latent upscaler, denoising 0.5) at the family's base size, rather than sampling a 1.5× canvas the
checkpoint was not trained for. ``output_format`` is ``override_settings.samples_format``.
A ``model`` is a checkpoint: sent as ``override_settings.sd_model_checkpoint`` with
``override_settings_restore_afterwards`` (the server's loaded checkpoint is left as it was).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from imagegen_mcp import errors as e
from imagegen_mcp.providers.base import ProviderRequest
from imagegen_mcp.providers.sd_families import Family, dimensions, round8

STRENGTH = {"generate": 0.6, "edit": 0.6, "variation": 0.5, "inpaint": 0.75, "outpaint": 0.85}
FORMATS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
# Upscalers by mode, first one the server lists wins; a ``model`` naming one of its upscalers wins over all.
UPSCALERS = {
    "fast": ("R-ESRGAN 4x+", "ESRGAN_4x", "R-ESRGAN General 4xV3", "Lanczos"),
    "conservative": ("SwinIR_4x", "R-ESRGAN 4x+", "ESRGAN_4x", "LDSR", "Lanczos"),
}
START = "start the web UI with its API on: ./webui.sh --api (webui-user.bat: set COMMANDLINE_ARGS=--api)"
INFO_KEYS = (
    "seed", "all_seeds", "subseed", "sd_model_name", "sd_model_hash", "sampler_name", "steps", "cfg_scale",
    "width", "height", "denoising_strength", "job_timestamp", "clip_skip", "version",
)  # fmt: skip


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def generation_body(
    request: ProviderRequest, family: Family, checkpoint: str | None, *, images: list[bytes], mask: bytes | None,
    size: tuple[int, int] | None,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The route and body of a txt2img/img2img call. ``images``/``mask`` are already prepared bytes."""
    op = request.operation
    seed = request.seed if request.seed is not None else -1
    overrides: dict[str, Any] = {}
    if checkpoint:
        overrides["sd_model_checkpoint"] = checkpoint
    if request.output_format:
        overrides["samples_format"] = FORMATS[request.output_format]
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt or "",
        "seed": seed,
        "sampler_name": family.a1111_sampler,
        "steps": family.steps,
        "cfg_scale": family.cfg,
        "batch_size": request.n,
        "n_iter": 1,
        "send_images": True,
        "save_images": False,
        "override_settings": overrides,
        "override_settings_restore_afterwards": True,
    }
    if not images:
        if request.image_size == "high":
            width, height = dimensions(family, request.aspect_ratio, "medium")
            body.update(enable_hr=True, hr_scale=1.5, hr_upscaler="Latent", denoising_strength=0.5)
        else:
            width, height = dimensions(family, request.aspect_ratio, request.image_size)
        body.update(width=width, height=height)
        return "/sdapi/v1/txt2img", body
    strength = request.options.get("strength")
    width, height = size or (512, 512)
    body.update(
        init_images=[b64(images[0])],
        denoising_strength=float(strength) if strength is not None else STRENGTH.get(op, 0.6),
        width=round8(width),
        height=round8(height),
        resize_mode=0,
        include_init_images=False,
    )
    if mask is not None:
        outpaint = op == "outpaint"
        body.update(
            mask=b64(mask),
            mask_blur=int(request.options.get("mask_blur") or (8 if outpaint else 4)),
            inpainting_fill=int(request.options.get("inpainting_fill", 0 if outpaint else 1)),
            inpaint_full_res=bool(request.options.get("inpaint_full_res", not outpaint)),
            inpaint_full_res_padding=32,
            inpainting_mask_invert=0,
        )
    return "/sdapi/v1/img2img", body


def upscale_body(image: bytes, scale: int, upscaler: str) -> dict[str, Any]:
    return {
        "image": b64(image),
        "resize_mode": 0,
        "upscaling_resize": scale,
        "upscaler_1": upscaler,
        "upscaler_2": "None",
        "extras_upscaler_2_visibility": 0,
        "gfpgan_visibility": 0,
        "codeformer_visibility": 0,
        "upscale_first": False,
    }


def pick_upscaler(mode: str, listed: list[str]) -> str | None:
    for name in UPSCALERS.get(mode, UPSCALERS["fast"]):
        if name in listed:
            return name
    usable = [n for n in listed if n not in ("None", "Nearest")]
    return usable[0] if usable else None


def info_of(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The answer's ``info`` — a JSON *string* — parsed; the receipt-worthy keys only (no images, no prompt)."""
    raw = answer.get("info")
    try:
        info = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    if not isinstance(info, dict):
        return {}
    return {k: info[k] for k in INFO_KEYS if k in info}


def map_error(status: int, body: Any, *, base_url: str, model: str) -> e.ProviderError:
    """A1111's ``{"error", "detail", "body", "errors"}`` envelope (or FastAPI's 422 ``{"detail": [...]}``)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    kind = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI validation: [{loc, msg, type}]
        parts = [f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
                 if isinstance(d, dict)]  # fmt: skip
        text = "; ".join(parts) or "the request body was refused"
    else:
        text = str(detail or kind or (body if isinstance(body, str) else "") or f"HTTP {status}")[:300]
    said = f"AUTOMATIC1111 answered {status}: {text}"
    if status == 401:
        return e.AuthError(
            f"{said} (the server runs with --api-auth)",
            "export STABLE_DIFFUSION_LOCAL_AUTH=user:pass with the credentials given to --api-auth",
            status=status,
        )
    if status == 404 and "model" in text.lower():
        return e.ModelNotFoundError(
            f"{said}: checkpoint {model!r} is not on the server (nothing was made)",
            "use a checkpoint the server lists (run preflight), or leave model unset for the loaded one",
            status=status,
        )
    if status == 404 and "/sdapi/" not in text and kind is None:
        return e.ProviderError(f"{said} — the API routes are missing", START, code="api_disabled", status=status)
    if status in (400, 404, 413, 422) or "Invalid encoded image" in text:
        return e.BadRequestError(f"{said} (nothing was made)", "fix the named argument and retry", status=status)
    if status >= 500:
        return e.ProviderDownError(
            f"{said}", "check the web UI's console for the cause (out of GPU memory?), then retry", status=status
        )
    return e.ProviderError(said, "retry; if it persists, check the web UI's console", status=status)
