"""The OpenAI Images API wire format, shared by the ``openai`` and ``compatible`` providers.

The boundary where our request becomes a JSON body or a multipart form, and where the answer becomes
image bytes, result URLs or an :mod:`imagegen_mcp.errors` exception (``reference/providers.md`` §1):

- Answers: ``data[]`` items carry ``b64_json`` (GPT image) or ``url`` (DALL·E, and gateways even for
  GPT image); bytes are sniffed, never trusted to their label. A 200 that is not JSON (an HTML
  sign-in page, a cut-off body) is :class:`~imagegen_mcp.errors.InvalidResponseError`.
- Errors, in any of three envelopes, mapped by status and code: OpenAI's
  ``{"error": {"message", "type", "param", "code"}}``, the aggregator gateways'
  ``{"code": …, "msg": …}`` and the small proxies' ``{"error": "text"}``. An error inside a 200 is
  handled like the same error sent with its own status. Messages never contain the key.
- Waits: ``retry-after-ms``, then ``retry-after`` (seconds or an HTTP date), then
  ``x-ratelimit-reset-requests`` (``12ms``, ``1s``, ``6m0s``).
- Masks (ours white = change, OpenAI's alpha 0 = edit) are converted in :mod:`.openai_operations`.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imagegen_mcp import errors as e
from imagegen_mcp.imaging.codec import sniff, take_base64_image
from imagegen_mcp.providers.base import ProviderImage

MODERATION_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
MODERATION_WORDS = ("safety system", "content policy", "moderation", "content_policy", "sensitive content")
PROMPT_TOO_LONG = re.compile(
    r"prompt.*(too long|length|maximum|max|exceed|limit)|(too long|exceed).*prompt", re.I | re.S
)
# OpenAI's parameter names → the argument the caller set.
PARAM_ARGUMENT = {
    "size": "aspect_ratio",
    "quality": "image_size",
    "image": "the input image",
    "image[]": "the input images",
    "mask": "mask",
    "n": "n",
    "prompt": "prompt",
    "model": "model",
    "background": "background",
    "output_format": "output_format",
    "output_compression": "output_compression",
    "moderation": "moderation",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


@dataclass(frozen=True)
class Who:
    """Who is being called, for messages and fixes."""

    label: str  # "OpenAI", "the image gateway"
    key_variable: str  # OPENAI_API_KEY
    base_variable: str  # OPENAI_BASE_URL
    key_hint: str = "sk-…"


# --------------------------------------------------------------------------- answers


def answer_images(body: Any, who: Who) -> tuple[list[ProviderImage], list[str]]:
    """Image bytes and result URLs from ``data[]``; anything else in a 200 is an invalid answer."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise e.InvalidResponseError(
            f"{who.label} answered without a 'data' list of images",
            f"retry; if it persists, check {who.base_variable} (it must be the API root, e.g. https://…/v1)",
        )
    images: list[ProviderImage] = []
    urls: list[str] = []
    for item in data:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("b64_json"), str) and item["b64_json"]:
            raw = take_base64_image(item, "b64_json")
            images.append(ProviderImage(raw, sniff(raw)))
        elif isinstance(item.get("url"), str) and item["url"]:
            urls.append(item["url"])
    return images, urls


def hidden_error(body: Any) -> Mapping[str, Any] | None:
    """An error envelope inside a 200 (``error``, or ``code``/``msg`` without ``data``)."""
    if not isinstance(body, dict) or isinstance(body.get("data"), list):
        return None
    if body.get("error"):
        return body
    if "code" in body and ("msg" in body or "message" in body) and body.get("code") not in (0, 200, "0", "200"):
        return body
    return None


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Envelope:
    message: str
    code: str | None
    type: str | None
    param: str | None
    status: int | None  # a status the body claims (``code`` of the code/msg envelope)
    details: Mapping[str, Any]


def envelope(body: Any) -> Envelope:
    """Read any of the three error envelopes; an unknown shape yields an empty message."""
    if not isinstance(body, Mapping):
        return Envelope("", None, None, None, None, {})
    error = body.get("error")
    if isinstance(error, Mapping):
        details = error.get("moderation_details")
        return Envelope(
            str(error.get("message") or "").strip(),
            _text(error.get("code")),
            _text(error.get("type")),
            _text(error.get("param")),
            _status(error.get("code")),
            details if isinstance(details, Mapping) else {},
        )
    if isinstance(error, str):
        return Envelope(error.strip(), None, None, None, None, {})
    message = body.get("msg") or body.get("message") or body.get("detail")
    code = body.get("code")
    return Envelope(str(message or "").strip(), _text(code), None, None, _status(code), {})


def map_error(
    http_status: int, body: Any, headers: Mapping[str, str], *, who: Who, model: str, key: str | None = None
) -> e.ProviderError:
    """One error answer (any status, any envelope) → the project's exception with a fix."""
    env = envelope(body)
    status = http_status if http_status >= 400 else (env.status or 502)
    text = env.message or f"HTTP {status}"
    if key:
        text = e.redact(text, (key,))
    detail = f"{who.label} {status}: {text[:400]}"
    common: dict[str, Any] = {"status": status}
    lowered = text.lower()
    code = (env.code or "").lower()

    if code in MODERATION_CODES or (status in (400, 403, 422) and any(word in lowered for word in MODERATION_WORDS)):
        categories = env.details.get("categories")
        reasons = [str(c) for c in categories] if isinstance(categories, list) else []
        stage = env.details.get("moderation_stage")
        where = f" at the {stage} stage" if isinstance(stage, str) else ""
        return e.ModerationError(
            f"{detail} — the request was blocked by the safety system{where}"
            + (f" (categories: {', '.join(reasons)})" if reasons else ""),
            "rephrase the prompt (or change the input image) without the flagged content; retrying the same "
            "request will be refused again",
            reasons=reasons,
            **common,
        )
    if status == 401 or code == "invalid_api_key":
        return e.AuthError(
            f"{detail} — the API key was refused",
            f"check {who.key_variable} (export {who.key_variable}={who.key_hint}), or call with provider='placeholder'",
            **common,
        )
    if status == 402 or code == "insufficient_quota":
        return e.CreditsError(
            f"{detail} — the account has no credits or quota left (nothing was generated)",
            f"add credits or raise the quota of the account behind {who.key_variable}, then retry",
            **common,
        )
    if status == 429:
        wait = retry_after(headers)
        return e.RateLimitError(
            f"{detail} — rate limited",
            f"retry{f' after {wait:.1f} s' if wait is not None else ' in a minute'}, or use enqueue_images, "
            "which retries for you",
            retry_after=wait,
            **common,
        )
    if status == 404:
        if code == "model_not_found" or "model" in lowered:
            return e.ModelNotFoundError(
                f"{detail} — model {model!r} is not available",
                "pass another model (run preflight to list the live ones), or leave model unset for the default",
                **common,
            )
        return e.ModelNotFoundError(
            f"{detail} — this endpoint does not exist at the configured base URL",
            f"check {who.base_variable} (the API root, with or without /v1)",
            code="endpoint_not_found",
            **common,
        )
    if status == 403:
        return e.ForbiddenError(
            f"{detail} — the key may not use this model or endpoint",
            f"check the permissions of the key in {who.key_variable}, or pick another model",
            **common,
        )
    if status in (408, 504):
        return e.ProviderTimeoutError(
            f"{detail} — the generation timed out upstream",
            "retry, or use enqueue_images so a slow generation does not hold the call",
            retry_after=retry_after(headers),
            **common,
        )
    if status >= 500 or status == 409:
        return e.ProviderDownError(
            f"{detail} — the provider failed or is overloaded",
            "retry shortly, pick another model, or use enqueue_images, which retries for you",
            retry_after=retry_after(headers),
            **common,
        )
    param = env.param or _param_in(text)
    if param == "prompt" or PROMPT_TOO_LONG.search(text):
        return e.BadRequestError(
            f"{detail} — the prompt is too long for this model or gateway",
            "shorten prompt (gateways often accept only ~1000 characters) and call again",
            **common,
        )
    argument = PARAM_ARGUMENT.get(param or "", param)
    return e.BadRequestError(
        f"{detail} — the request was refused as written" + (f" ({argument})" if argument else ""),
        f"fix {argument} and call again" if argument else "fix what the message names and call again",
        **common,
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``retry-after-ms``, ``retry-after`` (seconds or date), ``x-ratelimit-reset-requests``."""
    raw = headers.get("retry-after-ms")
    if raw:
        try:
            return max(0.0, float(raw) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    return duration(headers.get("x-ratelimit-reset-requests", ""))


def duration(text: str) -> float | None:
    """``12ms``, ``1s``, ``6m0s``, ``1h2m3.5s`` → seconds; None when it is not such a duration."""
    text = text.strip()
    if not text or _DURATION.sub("", text):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[unit] for n, unit in _DURATION.findall(text))


def _param_in(text: str) -> str | None:
    match = re.search(r"'([a-z_\[\]]+)'", text)
    return match.group(1) if match and match.group(1) in PARAM_ARGUMENT else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


def _status(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and 400 <= value <= 599 else None


# --------------------------------------------------------------------------- uploads


def upload_name(index: int, data: bytes) -> tuple[str, str]:
    """A file name and content type for a multipart part, from the sniffed bytes."""
    mime = sniff(data)
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}[mime]
    return f"image-{index}.{ext}", mime
