"""Steps both generation surfaces share: budget check, taking a fault, hang/reset/error faults,
building output images, and billing a finished generation.
"""

from __future__ import annotations

import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import images as img
from .bodies import ImageOut, generation_data
from .catalogue import ModelSpec
from .common import reply, reset, wait_or_cancel
from .errors import DEFAULT_MESSAGES, envelope, fault_error, user_id_for
from .faults import Fault
from .state import EmulatorState, RecordedRequest


async def pre_answer(
    request: Request,
    state: EmulatorState,
    rec: RecordedRequest,
    *,
    key: str,
    spec: ModelSpec,
    stream: bool,
) -> tuple[Fault | None, Response | None]:
    """Take this request's fault and handle the ones that replace the whole answer.
    Returns (fault, response); a response means the caller is done."""
    with state.cond:
        remaining = state.key_limit_remaining
        latency = state.latency_s
    if remaining is not None and remaining <= 0:
        return None, reply(state, rec, 402, envelope(DEFAULT_MESSAGES[402], 402, user_id=user_id_for(key)))
    fault = state.take_fault()
    rec.fault = fault
    if fault is None:
        return None, None
    if fault.kind == "reset" and not (fault.mid_stream and stream):
        return fault, await reset(request, state, rec)
    if fault.kind == "hang":
        if await wait_or_cancel(request, state, rec, math.inf) == "closing":
            state.finish(rec, "error", 503)
        return fault, Response(status_code=503)
    if fault.kind in ("http", "error_200"):
        if await wait_or_cancel(request, state, rec, latency) != "done":
            return fault, Response(status_code=499)
        prompt = rec.prompt or ""
        status, body, headers = fault_error(
            fault, model=spec.id, provider=spec.provider, prompt=prompt, user_id=user_id_for(key)
        )
        return fault, reply(state, rec, status, body, outcome="error", headers=headers)
    return fault, None


def output_format(fault: Fault | None, requested: str | None) -> str:
    if fault is not None and fault.image_format:
        return fault.image_format
    return requested if requested in img.MEDIA_TYPES else "png"


def make_images(
    prompt: str, fault: Fault | None, size: tuple[int, int], count: int, fmt: str, *, transparent: bool = False
) -> list[ImageOut]:
    """The images a success returns: `count` renders, or the cached big/noisy ones for size/large faults.

    `transparent` (a model that makes transparency was asked for it): a real alpha channel, unless the
    `checkerboard` fault paints one into an opaque image instead. Otherwise images are opaque."""
    kind = fault.kind if fault else None
    if kind == "two_images":
        count = max(count, 2)
    if kind == "size" and fault is not None and fault.width and fault.height:
        size = (fault.width, fault.height)
    media = img.MEDIA_TYPES[fmt]
    if kind == "large":
        return [ImageOut(img.large(fmt), media) for _ in range(count)]
    if transparent:
        style = "checkerboard" if kind == "checkerboard" else "transparent"
        return [ImageOut(img.render_background(prompt, size[0], size[1], fmt, i, style), media) for i in range(count)]
    return [ImageOut(img.render(prompt, size[0], size[1], fmt, i), media) for i in range(count)]


def settle(
    state: EmulatorState,
    rec: RecordedRequest,
    *,
    gen_id: str,
    spec: ModelSpec,
    api_type: str,
    usage: dict[str, Any],
    n_images: int,
    finish_reason: str,
    native_finish_reason: str,
) -> None:
    """Bill a delivered answer (image or billed no-image) and make it visible to `/generation` later."""
    state.bill(float(usage["cost"]))
    latency_ms = int((time.time() - rec.time_received) * 1000)
    state.add_generation(
        gen_id,
        generation_data(
            gen_id=gen_id,
            spec=spec,
            api_type=api_type,
            usage=usage,
            n_images=n_images,
            n_inputs=len(rec.input_images) + len(rec.input_image_urls),
            streamed=rec.stream,
            finish_reason=finish_reason,
            native_finish_reason=native_finish_reason,
            latency_ms=latency_ms,
            referer=rec.referer,
        ),
    )
    state.finish(rec, "ok" if n_images else "no_image", 200)


def in_band_error(fault: Fault, *, default_code: int | str, message: str, error_type: str) -> dict[str, Any]:
    """`error` object for `choices[0].error` and mid-stream chunks; `string_code` swaps in a string."""
    code: int | str = fault.code if fault.code is not None else default_code
    if fault.string_code and isinstance(code, int):
        code = "server_error"
    meta = {"error_type": error_type, **(fault.metadata or {})}
    return {"code": code, "message": fault.message or message, "metadata": meta}
