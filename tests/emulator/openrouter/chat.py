"""`POST /api/v1/chat/completions` with image output (JSON and SSE), like the Gemini captures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import errors
from .bodies import (
    ChatResult,
    chat_body,
    chat_stream_error,
    chat_stream_frames,
    chat_usage,
    new_generation_id,
)
from .bodies import estimate_tokens as tokens
from .catalogue import ModelSpec
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
    wait_or_cancel,
)
from .faults import Fault
from .generation import in_band_error, make_images, output_format, pre_answer, settle
from .images import CHAT_IMAGE_SIZES, chat_pixels, parse_ratio, scaled
from .state import EmulatorState, RecordedRequest

MODALITIES = frozenset({"text", "image", "audio"})
REFUSAL = "I'm sorry, but I can't create that image. I can help with a different request."
TEXT_ONLY = "Here is a description instead of an image: a simple composition in two colours."


def last_user_text(messages: list[Any]) -> str:
    """The prompt as tests know it: the text of the last user message (text parts joined by newlines)."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
                return "\n".join(t for t in texts if isinstance(t, str))
    return ""


def _validate(body: Any, state: EmulatorState, rec: RecordedRequest, uid: str) -> tuple[int, dict[str, Any]] | None:
    """Request checks in OpenRouter's order; (status, body) of the first failure, else None."""
    if not isinstance(body, dict):
        return 400, errors.invalid(user_id=uid)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, errors.invalid(user_id=uid, param="messages")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return 400, errors.invalid(user_id=uid, param="model")
    with state.cond:
        spec = state.models.get(model)
    if spec is None:
        return 400, errors.not_valid_model(model, user_id=uid)
    modalities = body.get("modalities", ["text"])
    if not isinstance(modalities, list) or not modalities or not set(modalities) <= MODALITIES:
        return 400, errors.invalid(user_id=uid, param="modalities")
    if not spec.on_chat or not set(modalities) <= set(spec.output_modalities):
        return 404, errors.wrong_modalities(modalities, user_id=uid)
    config = body.get("image_config", {})
    if not isinstance(config, dict):
        return 400, errors.invalid(user_id=uid, param="image_config")
    aspect = config.get("aspect_ratio")
    if aspect is not None and (not isinstance(aspect, str) or parse_ratio(aspect) is None):
        return 400, errors.invalid(f"Invalid aspect_ratio: {aspect!r}", user_id=uid, param="image_config.aspect_ratio")
    size = config.get("image_size")
    if size is not None and size not in CHAT_IMAGE_SIZES:
        return 400, errors.invalid(f"Invalid image_size: {size!r}", user_id=uid, param="image_config.image_size")
    if "stream" in body and not isinstance(body["stream"], bool):
        return 400, errors.invalid(user_id=uid, param="stream")
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            problem = decode_image_parts(content, rec)
            if problem:
                return 400, errors.invalid(problem, user_id=uid, error_type="invalid_image")
    return None


def _result(
    body: dict[str, Any], spec: ModelSpec, fault: Fault | None, rec: RecordedRequest, divisor: int
) -> ChatResult:
    prompt = rec.prompt or ""
    config = body.get("image_config") or {}
    kind = fault.kind if fault else None
    wants_image = "image" in body.get("modalities", ["text"])
    pixels = scaled(chat_pixels(config.get("aspect_ratio"), config.get("image_size")), divisor)
    # OpenAI's image models pass `background` and `output_format` through `image_config`; others ignore them.
    passthrough = spec.id.startswith("openai/")
    fmt = output_format(fault, config.get("output_format") if passthrough else None)
    transparent = passthrough and config.get("background") == "transparent"
    images = make_images(prompt, fault, pixels, 1, fmt, transparent=transparent) if wants_image else []
    content, finish, native = "", "stop", "STOP"
    if not wants_image:
        content = TEXT_ONLY
    elif kind == "text_and_image":
        content = f"Here is your image: {prompt[:60]}"
    elif kind == "no_image_safety":
        images, native = [], "IMAGE_SAFETY"
    elif kind == "no_image_prohibited":
        images, finish, native = [], "content_filter", "IMAGE_PROHIBITED_CONTENT"
    elif kind in ("text_refusal", "choice_error", "stream_error"):
        images = []
        content = REFUSAL if kind == "text_refusal" else ""
    created = int(time.time())
    prompt_tokens = tokens(prompt) + 258 * len(rec.input_images)
    return ChatResult(
        gen_id=new_generation_id(created),
        created=created,
        spec=spec,
        images=images,
        content=content,
        finish_reason=finish,
        native_finish_reason=native,
        usage=chat_usage(spec, prompt_tokens, len(images), tokens(content) if content else 0),
        omit_system_fingerprint=kind == "omit_system_fingerprint",
        image_as_string=kind == "image_as_string",
    )


def _error_of(fault: Fault, *, mid_stream: bool) -> dict[str, Any]:
    if mid_stream:
        return in_band_error(
            fault, default_code=502, message="Provider disconnected", error_type="provider_unavailable"
        )
    return in_band_error(
        fault, default_code=502, message="Provider disconnected mid-stream", error_type="provider_unavailable"
    )


async def chat_completions(request: Request) -> Response:
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
        rec.stream = body.get("stream") is True
        rec.prompt = last_user_text(body.get("messages") or [])
    problem = _validate(body, state, rec, uid)
    if problem:
        return reply(state, rec, problem[0], problem[1])
    with state.cond:
        spec = state.models[body["model"]]
        divisor, latency = state.scale_divisor, state.latency_s
    fault, done = await pre_answer(request, state, rec, key=key, spec=spec, stream=rec.stream)
    if done is not None:
        return done
    result = _result(body, spec, fault, rec, divisor)
    headers = {"X-Generation-Id": result.gen_id}
    rec.generation_id = result.gen_id
    if rec.stream:
        return StreamingResponse(
            _stream(request, state, rec, result, fault, latency),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache"},
        )
    if await wait_or_cancel(request, state, rec, latency) != "done":
        return Response(status_code=499)
    if fault is not None and fault.kind in ("choice_error", "stream_error"):
        return reply(
            state,
            rec,
            200,
            chat_body(result, error=_error_of(fault, mid_stream=False)),
            outcome="error",
            headers=headers,
        )
    settle(
        state,
        rec,
        gen_id=result.gen_id,
        spec=spec,
        api_type="completions",
        usage=result.usage,
        n_images=len(result.images),
        finish_reason=result.finish_reason,
        native_finish_reason=result.native_finish_reason,
    )
    return JSONResponse(chat_body(result), headers=headers)


async def _stream(
    request: Request,
    state: EmulatorState,
    rec: RecordedRequest,
    result: ChatResult,
    fault: Fault | None,
    latency: float,
) -> AsyncIterator[str]:
    """Comment first (and every `keepalive_s` while "generating"), then the section-6 frame order.
    A client disconnect cancels this generator; `finally` records it in `emu.cancelled`."""
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
        frames = chat_stream_frames(result)
        kind = fault.kind if fault else None
        if kind in ("stream_error", "choice_error") and fault is not None:
            yield frames[0]
            yield chat_stream_error(result, _error_of(fault, mid_stream=True))
            state.finish(rec, "error", 200)
        elif kind == "reset" and fault is not None:
            yield frames[0]
            state.finish(rec, "reset", None)
            abort_connection(request)
            await asyncio.sleep(0.05)
        else:
            for frame in frames:
                yield frame
            yield SSE_DONE
            settle(
                state,
                rec,
                gen_id=result.gen_id,
                spec=result.spec,
                api_type="completions",
                usage=result.usage,
                n_images=len(result.images),
                finish_reason=result.finish_reason,
                native_finish_reason=result.native_finish_reason,
            )
        finished = True
    finally:
        if not finished:
            state.finish(rec, "cancelled", None)
