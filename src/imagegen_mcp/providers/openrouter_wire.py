"""OpenRouter's wire format: parse every response variant, map every error, exactly once.

This is the boundary where OpenRouter's JSON becomes :mod:`imagegen_mcp.errors` exceptions or
:class:`ProviderImage` lists. It follows ``reference/openrouter-api.md``:

- HTTP 200 can carry an error (top-level ``error``, or ``choices[0].error`` with
  ``finish_reason: "error"``); it is handled by its own code, like the same error sent with that status.
- ``error.code`` may be an int, a string, or missing (availability errors carry ``http_status``).
- ``message.images[]`` entries may be objects, ``{image_url: "…"}``, ``{url: "…"}`` or bare strings,
  holding a data URL or bare base64; the MIME label is never trusted, the bytes are sniffed.
- No image (missing or empty ``images``) is an error, whatever ``finish_reason`` says.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

from imagegen_mcp import errors as e
from imagegen_mcp.imaging.codec import sniff, take_base64_image
from imagegen_mcp.providers.base import ProviderImage

KEYS_URL = "https://openrouter.ai/settings/keys"
CREDITS_URL = "https://openrouter.ai/settings/credits"
IMAGE_MODELS_URL = "https://openrouter.ai/models?output_modalities=image"

# error.metadata.error_type (and string error.code) → the HTTP status it stands for.
ERROR_TYPE_STATUS = {
    "authentication": 401,
    "payment_required": 402,
    "permission_denied": 403,
    "not_found": 404,
    "image_not_found": 404,
    "timeout": 408,
    "payload_too_large": 413,
    "unprocessable": 422,
    "rate_limit_exceeded": 429,
    "server": 500,
    "server_error": 500,
    "unmapped": 500,
    "provider_unavailable": 502,
    "provider_overloaded": 503,
    "content_policy_violation": 403,
    "refusal": 400,
}


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one: wire data is never trusted to have a shape."""
    return value if isinstance(value, Mapping) else {}


def retry_after_seconds(headers: Mapping[str, str], body_error: Mapping[str, Any] | None = None) -> float | None:
    """``Retry-After`` (seconds or HTTP date), else ``availability.retry_after``."""
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            when = email.utils.parsedate_to_datetime(raw) if raw else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    if body_error:
        availability = body_error.get("availability")
        if isinstance(availability, Mapping) and isinstance(availability.get("retry_after"), int | float):
            return float(availability["retry_after"])
    return None


def effective_status(error: Mapping[str, Any], http_status: int) -> int:
    """The status an error stands for: int ``code``, else ``http_status``, else its type, else HTTP."""
    code = error.get("code")
    if isinstance(code, int) and 100 <= code <= 599:
        return code
    if isinstance(code, str) and code.isdigit() and 100 <= int(code) <= 599:
        return int(code)
    if isinstance(error.get("http_status"), int):
        return int(error["http_status"])
    metadata = mapping(error.get("metadata"))
    for kind in (error.get("error_type"), metadata.get("error_type"), code):
        if isinstance(kind, str) and kind in ERROR_TYPE_STATUS:
            return ERROR_TYPE_STATUS[kind]
    if http_status >= 400:
        return http_status
    return 502  # an error inside a 200 with nothing else to go on: the provider failed


def map_error(
    http_status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    model: str,
    generation_id: str | None = None,
) -> e.ProviderError:
    """One OpenRouter error (any status, any envelope) → the project's exception with a fix."""
    error: Mapping[str, Any] = {}
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        error = body["error"]
    status = effective_status(error, http_status) if error else http_status
    text = str(error.get("message") or "").strip() or f"HTTP {http_status}"
    metadata = mapping(error.get("metadata"))
    raw = metadata.get("raw")
    if isinstance(raw, str) and raw and raw not in text:
        text = f"{text}: {raw[:300]}"
    detail = f"OpenRouter {status}: {text}"
    common: dict[str, Any] = {"status": status, "generation_id": generation_id}

    if status == 401:
        return e.AuthError(
            f"{detail} — the API key was refused",
            f"check OPENROUTER_API_KEY (create a key at {KEYS_URL}), or call with provider='placeholder'",
            **common,
        )
    if status == 402:
        return e.CreditsError(
            f"{detail} — the account or this key has no credits left",
            f"add credits at {CREDITS_URL} or raise the key's limit, then retry; nothing was generated",
            **common,
        )
    if status == 403:
        reasons = metadata.get("reasons")
        if isinstance(reasons, list) or "moderation" in text.lower() or "flagged" in text.lower():
            listed = ", ".join(str(r) for r in reasons) if isinstance(reasons, list) and reasons else "unspecified"
            return e.ModerationError(
                f"{detail} — the prompt was flagged by moderation (reasons: {listed})",
                "rephrase the prompt without the flagged content, or pick a model without mandatory moderation",
                reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [],
                **common,
            )
        return e.ForbiddenError(
            f"{detail} — the request is not allowed for this key",
            f"check the key's permissions and guardrails at {KEYS_URL}",
            **common,
        )
    if status == 404 or (status == 400 and "not a valid model" in text.lower()):
        return e.ModelNotFoundError(
            f"{detail} — model {model!r} is not available for image output here",
            f"check the model id (image models: {IMAGE_MODELS_URL}); pass surface='images' or 'chat' "
            "to pick the endpoint yourself, or set IMAGEGEN_MODEL",
            **common,
        )
    if status == 408 or status == 504:
        return e.ProviderTimeoutError(
            f"{detail} — the generation timed out upstream",
            "retry, or use enqueue_images so a slow generation does not hold the call",
            retry_after=retry_after_seconds(headers, error),
            **common,
        )
    if status == 429:
        wait = retry_after_seconds(headers, error)
        hint = f" after {wait:.0f} s" if wait is not None else " in a minute"
        return e.RateLimitError(
            f"{detail} — rate limited",
            f"retry{hint}, or use enqueue_images, which retries for you",
            retry_after=wait,
            **common,
        )
    if status >= 500:
        return e.ProviderDownError(
            f"{detail} — the provider failed or is overloaded (a failed generation is not billed)",
            "retry shortly, pick another model, or use enqueue_images, which retries for you",
            retry_after=retry_after_seconds(headers, error),
            **common,
        )
    if status == 413:
        return e.BadRequestError(
            f"{detail} — the request is too large",
            "shorten the prompt or send fewer / smaller reference images",
            **common,
        )
    return e.BadRequestError(
        f"{detail} — OpenRouter refused the request as written",
        "fix what the message names (model, aspect_ratio, image_size, prompt) and call again",
        **common,
    )


def body_error(body: Any) -> Mapping[str, Any] | None:
    """An error hidden in a 200: top-level ``error`` or ``choices[0].error`` / ``finish_reason: error``."""
    if not isinstance(body, Mapping):
        return None
    if isinstance(body.get("error"), Mapping):
        return body
    choice = first_choice(body)
    if choice is not None:
        if isinstance(choice.get("error"), Mapping):
            return {"error": choice["error"]}
        if choice.get("finish_reason") == "error":
            return {"error": {"code": 502, "message": "the provider reported an error mid-generation"}}
    return None


def first_choice(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def cost_of(body: Mapping[str, Any]) -> float | None:
    usage = body.get("usage")
    if isinstance(usage, Mapping) and isinstance(usage.get("cost"), int | float):
        return float(usage["cost"])
    return None


def chat_images(body: Mapping[str, Any]) -> tuple[list[ProviderImage], str | None, str | None]:
    """Images, text and native finish reason from a chat completion (non-streaming)."""
    choice = first_choice(body) or {}
    message = mapping(choice.get("message"))
    entries: list[Any] = message["images"] if isinstance(message.get("images"), list) else []
    images = [_image_from_entry(entry) for entry in entries]
    content = message.get("content")
    text = content.strip() if isinstance(content, str) and content.strip() else None
    if text is None and isinstance(message.get("refusal"), str) and message["refusal"].strip():
        text = message["refusal"].strip()
    native = choice.get("native_finish_reason") or choice.get("finish_reason")
    return [i for i in images if i is not None], text, native if isinstance(native, str) else None


def image_api_images(body: Mapping[str, Any]) -> list[ProviderImage]:
    """Images from the Image API's ``data[]`` (``b64_json``; ``media_type`` optional and ignored)."""
    data = body.get("data")
    if not isinstance(data, list):
        raise e.InvalidResponseError(
            "OpenRouter's Image API answered without a 'data' list",
            "retry; if it persists, pass surface='chat' or pick another model",
        )
    images: list[ProviderImage] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
            raw = take_base64_image(item, "b64_json")
            images.append(ProviderImage(raw, sniff(raw)))
    return images


def _image_from_entry(entry: Any) -> ProviderImage | None:
    # Find the dict and key that hold the URL, so the (large) text can be handed over, not copied.
    holder: Any = entry
    key = "url"
    if isinstance(entry, dict):
        if isinstance(entry.get("image_url"), dict):
            holder = entry["image_url"]
        elif "image_url" in entry:
            key = "image_url"
    if not isinstance(holder, dict):
        holder, key = {"url": entry}, "url"  # a bare string entry
    if not isinstance(holder.get(key), str) or not holder[key]:
        return None
    if holder[key].startswith(("http://", "https://")):
        raise e.InvalidResponseError(
            "OpenRouter returned an image as a remote URL, which this server does not download",
            "pick another model, or report the model id so remote URLs can be supported",
            retryable=False,  # the image was made (and billed); asking again would bill again
        )
    raw = take_base64_image(holder, key)
    return ProviderImage(raw, sniff(raw))


def no_image_error(
    model: str, text: str | None, finish_reason: str | None, cost: float | None, generation_id: str | None
) -> e.NoImageError:
    reason = finish_reason or "no reason given"
    said = f'; the model said: "{text[:200]}"' if text else ""
    charged = f" (the prompt may still be billed: ${cost:.4f})" if cost else ""
    safety = finish_reason is not None and ("SAFETY" in finish_reason or "PROHIBITED" in finish_reason)
    fix = (
        "the request was blocked by the model's safety filter: rephrase the prompt"
        if safety
        else "rephrase the prompt to ask for an image explicitly, or pick another model"
    )
    return e.NoImageError(
        f"{model} returned no image (finish reason {reason}){said}{charged}",
        fix,
        finish_reason=finish_reason,
        cost_usd=cost,
        generation_id=generation_id,
    )


def response_metadata(body: Mapping[str, Any], generation_id: str | None) -> dict[str, Any]:
    """What a receipt keeps of one answer (either surface): ids, model, upstream, finish reasons, usage.

    Never image data (``images``/``data`` are left out) and never text beyond the model's short reply.
    """
    meta: dict[str, Any] = {"generation_id": generation_id}
    meta.update({k: body[k] for k in ("model", "provider", "created", "system_fingerprint") if k in body})
    choice = first_choice(body)
    if choice is not None:
        meta["finish_reason"] = choice.get("finish_reason")
        meta["native_finish_reason"] = choice.get("native_finish_reason")
        content = mapping(choice.get("message")).get("content")
        if isinstance(content, str) and content.strip():
            meta["text"] = content.strip()[:500]
    elif isinstance(body.get("data"), list):
        meta["images"] = len(body["data"])
    if isinstance(body.get("usage"), Mapping):
        meta["usage"] = dict(body["usage"])
    return meta
