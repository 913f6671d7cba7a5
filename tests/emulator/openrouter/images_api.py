"""`POST /api/v1/images` (the dedicated Image API), JSON and partial-image SSE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import errors
from .bodies import (
    ImageOut,
    ImagesResult,
    images_body,
    images_stream_error,
    images_stream_events,
    images_usage,
    new_generation_id,
)
from .bodies import estimate_tokens as tokens
from .common import (
    SSE_COMMENT,
    SSE_DONE,
    abort_connection,
    authenticate,
    body_error,
    decode_image_parts,
    record,
    reply,
    state_of,
    truncated,
    wait_or_cancel,
)
from .faults import Fault
from .generation import make_images, output_format, pre_answer, settle
from .images import ASPECT_RATIOS, RESOLUTION_EDGE, images_api_pixels, parse_ratio, render, scaled
from .state import EmulatorState, RecordedRequest

MAX_REFERENCES = 16


def _pixel_size(size: Any) -> tuple[int, int] | None:
    """`"2048x1152"` → (2048, 1152); None for tiers or junk."""
    if not isinstance(size, str):
        return None
    w, sep, h = size.lower().partition("x")
    return (int(w), int(h)) if sep and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0 else None


def _tier_of(edge: int) -> str:
    return min(RESOLUTION_EDGE, key=lambda t: abs(RESOLUTION_EDGE[t] - edge))


def _size_problem(body: dict[str, Any]) -> str | None:
    """Explicit pixels that disagree with `resolution` or `aspect_ratio` are a 400, as documented."""
    size, resolution, aspect = body.get("size"), body.get("resolution"), body.get("aspect_ratio")
    if size is None:
        return None
    pixels = _pixel_size(size)
    if pixels is None:
        if size not in RESOLUTION_EDGE:
            return f"Invalid size: {size!r}"
        return f"size {size} conflicts with resolution {resolution}" if resolution not in (None, size) else None
    if resolution is not None and _tier_of(max(pixels)) != resolution:
        return f"size {size} conflicts with resolution {resolution}"
    ratio = parse_ratio(aspect) if isinstance(aspect, str) else None
    if ratio is not None and abs(pixels[0] / pixels[1] - ratio) / ratio > 0.02:
        return f"size {size} conflicts with aspect_ratio {aspect}"
    return None


def _validate(body: Any, state: EmulatorState, rec: RecordedRequest, uid: str) -> tuple[int, dict[str, Any]] | None:
    if not isinstance(body, dict):
        return 400, errors.invalid(user_id=uid)
    for name in ("model", "prompt"):
        if not isinstance(body.get(name), str) or not body[name]:
            return 400, errors.invalid(user_id=uid, param=name)
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        return 400, errors.invalid(user_id=uid, param="n")
    with state.cond:
        spec = state.models.get(body["model"])
    if spec is None:
        return 400, errors.not_valid_model(body["model"], user_id=uid)
    if not spec.on_images_api:
        return 400, errors.wrong_endpoint(spec.id, user_id=uid)
    if n > 1 and not spec.multi_image:
        return 400, errors.invalid(f"{spec.id} does not support n > 1", user_id=uid, param="n")
    if body.get("resolution") not in (None, *RESOLUTION_EDGE):
        return 400, errors.invalid(user_id=uid, param="resolution")
    if body.get("aspect_ratio") not in (None, *ASPECT_RATIOS):
        return 400, errors.invalid(user_id=uid, param="aspect_ratio")
    if body.get("output_format") not in (None, "png", "jpeg", "webp"):
        return 400, errors.invalid(user_id=uid, param="output_format")
    if "stream" in body and not isinstance(body["stream"], bool):
        return 400, errors.invalid(user_id=uid, param="stream")
    problem = _size_problem(body)
    if problem:
        return 400, errors.invalid(problem, user_id=uid, param="size")
    refs = body.get("input_references", [])
    if not isinstance(refs, list) or len(refs) > MAX_REFERENCES:
        return 400, errors.invalid(user_id=uid, param="input_references")
    problem = decode_image_parts(refs, rec)
    if problem:
        return 400, errors.invalid(problem, user_id=uid, error_type="invalid_image")
    return None


def _result(body: dict[str, Any], fault: Fault | None, rec: RecordedRequest, state: EmulatorState) -> ImagesResult:
    with state.cond:
        spec, divisor = state.models[body["model"]], state.scale_divisor
    pixels = _pixel_size(body.get("size"))
    if pixels is None:
        tier = body.get("resolution") or (body.get("size") if body.get("size") in RESOLUTION_EDGE else None)
        pixels = images_api_pixels(tier, body.get("aspect_ratio"))
    size = scaled(pixels, divisor)
    fmt = output_format(fault, body.get("output_format"))
    prompt = body["prompt"]
    transparent = body.get("background") == "transparent" and "background" in spec.supported_parameters
    count = body.get("n", 1)
    images = (
        []
        if fault is not None and fault.is_no_image
        else make_images(prompt, fault, size, count, fmt, transparent=transparent)
    )
    created = int(time.time())
    prompt_tokens = tokens(prompt) + 258 * len(rec.input_images)
    preview = ImageOut(render(prompt, max(1, size[0] // 4), max(1, size[1] // 4), "png", 0), "image/png")
    return ImagesResult(
        gen_id=new_generation_id(created),
        created=created,
        spec=spec,
        images=images,
        usage=images_usage(spec, prompt_tokens, len(images)),
        omit_media_type=fault is not None and fault.kind == "no_media_type",
        partials=[preview, preview],
    )


async def images_generate(request: Request) -> Response:
    state = state_of(request)
    rec, body, body_problem = await record(request)
    key, denied = authenticate(state, rec)
    if denied or key is None:
        return denied or Response(status_code=401)
    uid = errors.user_id_for(key)
    bad_body = body_error(state, rec, body_problem, uid)
    if bad_body is not None:
        return bad_body
    if isinstance(body, dict):
        rec.model = body.get("model") if isinstance(body.get("model"), str) else None
        rec.prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else None
        rec.stream = body.get("stream") is True
    problem = _validate(body, state, rec, uid)
    if problem:
        return reply(state, rec, problem[0], problem[1])
    with state.cond:
        spec, latency = state.models[body["model"]], state.latency_s
    # Models without supports_streaming ignore `stream` and buffer (documented behaviour).
    rec.stream = rec.stream and spec.supports_streaming
    fault, done = await pre_answer(request, state, rec, key=key, spec=spec, stream=rec.stream)
    if done is not None:
        return done
    result = _result(body, fault, rec, state)
    headers = {"X-Generation-Id": result.gen_id}
    rec.generation_id = result.gen_id
    failed = fault is not None and fault.kind in ("choice_error", "stream_error")
    if rec.stream and not (fault is not None and fault.is_no_image):
        return StreamingResponse(
            _stream(request, state, rec, result, fault, latency),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache"},
        )
    if await wait_or_cancel(request, state, rec, latency) != "done":
        return Response(status_code=499)
    if failed:
        # A failed Image API generation is a 502 and is not billed.
        body_502 = errors.envelope(
            "Provider returned error",
            502,
            metadata={"raw": "Generation failed", "provider_name": spec.provider},
            user_id=uid,
        )
        return reply(state, rec, 502, body_502)
    settle(
        state,
        rec,
        gen_id=result.gen_id,
        spec=spec,
        api_type="image",
        usage=result.usage,
        n_images=len(result.images),
        finish_reason="stop",
        native_finish_reason="stop",
    )
    if fault is not None and fault.kind == "truncated":
        return truncated(images_body(result), headers)
    return JSONResponse(images_body(result), headers=headers)


async def _stream(
    request: Request,
    state: EmulatorState,
    rec: RecordedRequest,
    result: ImagesResult,
    fault: Fault | None,
    latency: float,
) -> AsyncIterator[str]:
    """Keep-alive comment, partial previews, `completed` event(s), `[DONE]`; `stream_error` breaks off
    after the first partial with a string-coded `error` event."""
    finished = False
    try:
        yield SSE_COMMENT
        loop = asyncio.get_running_loop()
        deadline, keepalive = loop.time() + latency, loop.time() + state.keepalive_s
        while (remaining := deadline - loop.time()) > 0 and not state.closing:
            await asyncio.sleep(min(0.02, remaining))
            if loop.time() >= keepalive:
                keepalive += state.keepalive_s
                yield SSE_COMMENT
        events = images_stream_events(result)
        if fault is not None and fault.kind in ("stream_error", "choice_error"):
            yield events[0]
            code: int | str | None = fault.code if fault.code is not None else "server_error"
            yield images_stream_error(fault.message or "Generation failed", code)
            state.finish(rec, "error", 200)
        elif fault is not None and fault.kind == "reset":
            yield events[0]
            state.finish(rec, "reset", None)
            abort_connection(request)
            await asyncio.sleep(0.05)
        else:
            for event in events:
                yield event
            yield SSE_DONE
            settle(
                state,
                rec,
                gen_id=result.gen_id,
                spec=result.spec,
                api_type="image",
                usage=result.usage,
                n_images=len(result.images),
                finish_reason="stop",
                native_finish_reason="stop",
            )
        finished = True
    finally:
        if not finished:
            state.finish(rec, "cancelled", None)
