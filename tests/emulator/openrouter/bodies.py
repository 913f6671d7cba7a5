"""Success (and in-band error) bodies for both generation surfaces, shaped like the wire captures.

Builders are pure functions of a `ChatResult` / `ImagesResult`, so the JSON and SSE forms of one
answer always agree (same id, images and usage).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .catalogue import ModelSpec
from .images import data_url

_ALNUM = string.ascii_letters + string.digits
PROMPT_TOKEN_USD = 0.0000003
TEXT_TOKEN_USD = 0.0000025


def new_generation_id(created: int) -> str:
    """`gen-<unix>-<20 alnum>`, the format of real ids and of the `X-Generation-Id` header."""
    return f"gen-{created}-" + "".join(secrets.choice(_ALNUM) for _ in range(20))


def sse(payload: dict[str, Any] | str) -> str:
    """One SSE event; `payload` dicts become a single (possibly multi-MB) `data:` line."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n"


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class ImageOut:
    data: bytes
    media_type: str

    @property
    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


@dataclass
class ChatResult:
    gen_id: str
    created: int
    spec: ModelSpec
    images: list[ImageOut]
    content: str
    finish_reason: str
    native_finish_reason: str
    usage: dict[str, Any]
    omit_system_fingerprint: bool = False
    image_as_string: bool = False

    def envelope(self, obj: str) -> dict[str, Any]:
        head: dict[str, Any] = {
            "id": self.gen_id,
            "provider": self.spec.provider,
            "model": self.spec.id,
            "object": obj,
            "created": self.created,
        }
        return head

    def tail(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.omit_system_fingerprint:
            body["system_fingerprint"] = None
        body["service_tier"] = "default"
        return body

    def image_entries(self) -> list[Any]:
        urls = [data_url(img.data, img.media_type) for img in self.images]
        if self.image_as_string:
            return list(urls)
        return [{"type": "image_url", "image_url": {"url": u}, "index": i} for i, u in enumerate(urls)]


def chat_usage(spec: ModelSpec, prompt_tokens: int, n_images: int, text_tokens: int) -> dict[str, Any]:
    """Full chat `usage` (cost, cost_details, image_tokens); cost > 0 even with no image (prompt billed)."""
    image_tokens = spec.image_tokens * n_images
    prompt_cost = round(prompt_tokens * PROMPT_TOKEN_USD, 10)
    completion_cost = round(spec.price_per_image * n_images + text_tokens * TEXT_TOKEN_USD, 10)
    completion_tokens = image_tokens + text_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "cost": round(prompt_cost + completion_cost, 10),
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "audio_tokens": 0,
            "video_tokens": 0,
        },
        "cost_details": {
            "upstream_inference_cost": None,
            "upstream_inference_prompt_cost": prompt_cost,
            "upstream_inference_completions_cost": completion_cost,
        },
        "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": image_tokens},
    }


def chat_body(r: ChatResult, *, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """Non-streaming `chat.completion`; `error` makes it the `choices[0].error` form."""
    message: dict[str, Any] = {"role": "assistant", "content": r.content, "refusal": None, "reasoning": None}
    if r.images:
        message["images"] = r.image_entries()
    choice: dict[str, Any] = {
        "logprobs": None,
        "finish_reason": "error" if error else r.finish_reason,
        "native_finish_reason": None if error else r.native_finish_reason,
        "index": 0,
        "message": message,
    }
    if error:
        choice["error"] = error
    body = r.envelope("chat.completion")
    body["choices"] = [choice]
    body = r.tail(body)
    body["usage"] = r.usage
    return body


def _chunk(r: ChatResult, delta: dict[str, Any], finish: str | None, native: str | None) -> dict[str, Any]:
    body = r.envelope("chat.completion.chunk")
    body["choices"] = [
        {
            "index": 0,
            "delta": delta,
            "finish_reason": finish,
            "native_finish_reason": native,
            "logprobs": None,
        }
    ]
    return r.tail(body)


def chat_stream_frames(r: ChatResult) -> list[str]:
    """Text delta → one images delta (the huge line) → finish chunk → separate usage chunk."""
    frames = [sse(_chunk(r, {"role": "assistant", "content": r.content}, None, None))]
    if r.images:
        delta = {"role": "assistant", "content": "", "images": r.image_entries()}
        frames.append(sse(_chunk(r, delta, None, None)))
    frames.append(sse(_chunk(r, {"role": "assistant", "content": ""}, r.finish_reason, r.native_finish_reason)))
    usage_chunk = _chunk(r, {"role": "assistant", "content": ""}, None, None)
    usage_chunk["usage"] = r.usage
    frames.append(sse(usage_chunk))
    return frames


def chat_stream_error(r: ChatResult, error: dict[str, Any]) -> str:
    """The mid-stream error chunk: top-level `error` and `finish_reason: "error"`."""
    body = r.envelope("chat.completion.chunk")
    body["error"] = error
    body["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]
    return sse(body)


@dataclass
class ImagesResult:
    gen_id: str
    created: int
    spec: ModelSpec
    images: list[ImageOut]
    usage: dict[str, Any]
    omit_media_type: bool = False
    partials: list[ImageOut] = field(default_factory=list)

    def item(self, img: ImageOut) -> dict[str, Any]:
        item: dict[str, Any] = {"b64_json": img.b64}
        if not self.omit_media_type:
            item["media_type"] = img.media_type
        return item


def images_usage(spec: ModelSpec, prompt_tokens: int, n_images: int) -> dict[str, Any]:
    """Image API `usage`: a flat price per image (prompt not billed, as in the docs' example);
    a no-image answer still bills its prompt tokens, so cost stays > 0."""
    completion = spec.image_tokens * n_images
    if n_images:
        prompt_tokens = 0
        cost = round(spec.price_per_image * n_images, 10)
    else:
        cost = round(prompt_tokens * PROMPT_TOKEN_USD, 10)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "cost": cost,
        "completion_tokens_details": {"image_tokens": completion},
    }


def images_body(r: ImagesResult) -> dict[str, Any]:
    return {"created": r.created, "data": [r.item(img) for img in r.images], "usage": r.usage}


def images_stream_events(r: ImagesResult) -> list[str]:
    """Partial previews, then one `completed` event per image; only the last carries `usage` (all images)."""
    events = [
        sse({"type": "image_generation.partial_image", "partial_image_index": i, "b64_json": p.b64})
        for i, p in enumerate(r.partials)
    ]
    for i, img in enumerate(r.images):
        event: dict[str, Any] = {"type": "image_generation.completed", **r.item(img), "created": r.created}
        if i == len(r.images) - 1:
            event["usage"] = r.usage
        events.append(sse(event))
    return events


def images_stream_error(message: str, code: int | str | None) -> str:
    return sse({"type": "error", "error": {"message": message, "code": code}})


def generation_data(
    *,
    gen_id: str,
    spec: ModelSpec,
    api_type: str,
    usage: dict[str, Any],
    n_images: int,
    n_inputs: int,
    streamed: bool,
    finish_reason: str,
    native_finish_reason: str,
    latency_ms: int,
    referer: str | None,
) -> dict[str, Any]:
    """`GET /generation` data for a billed generation."""
    return {
        "id": gen_id,
        "upstream_id": None,
        "total_cost": usage["cost"],
        "cache_discount": None,
        "upstream_inference_cost": None,
        "created_at": datetime.now(UTC).isoformat(),
        "model": spec.id,
        "app_id": None,
        "streamed": streamed,
        "cancelled": False,
        "provider_name": spec.provider,
        "latency": latency_ms,
        "moderation_latency": None,
        "generation_time": latency_ms,
        "finish_reason": finish_reason,
        "native_finish_reason": native_finish_reason,
        "tokens_prompt": usage["prompt_tokens"],
        "tokens_completion": usage["completion_tokens"],
        "native_tokens_prompt": usage["prompt_tokens"],
        "native_tokens_completion": usage["completion_tokens"],
        "native_tokens_completion_images": spec.image_tokens * n_images,
        "native_tokens_reasoning": 0,
        "native_tokens_cached": 0,
        "num_media_prompt": n_inputs,
        "num_media_completion": n_images,
        "num_search_results": 0,
        "origin": referer or "",
        "usage": usage["cost"],
        "is_byok": False,
        "api_type": api_type,
        "http_referer": referer,
        "external_user": None,
        "session_id": None,
    }
