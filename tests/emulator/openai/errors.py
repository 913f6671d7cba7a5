"""Error answers: `ApiError` carries the OpenAI fields; `error_body` renders it in the configured style.

Styles (the gateway ones are third-party shapes, documented in the package docstring):
- `openai`   `{"error": {"message", "type", "param", "code"}}` (+ `moderation_details` when blocked)
- `code_msg` `{"code": <HTTP status>, "msg": "<text>", "data": null}` (Chinese aggregator gateways)
- `string`   `{"error": "<text>"}` (Ollama-style proxies)

No message ever contains the caller's key: the 401 says "Incorrect API key provided." without echoing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalogue import ModelSpec
from .faults import Fault

ERROR_STYLES = frozenset({"openai", "code_msg", "string"})
INVALID = "invalid_request_error"
NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY)."
)
BAD_KEY = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
MODERATION = (
    "Your request was rejected by the safety system. If you believe this is an error, contact us at "
    "help.openai.com and include the request ID."
)
CONTENT_POLICY = (
    "Your request was rejected as a result of our safety system. Your prompt may contain text that is not "
    "allowed by our safety system."
)
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Gateway</title></head><body><h1>Welcome</h1>"
    "<p>Please sign in to continue.</p></body></html>"
)


@dataclass
class ApiError(Exception):
    """An error answer. `extra` lands inside the OpenAI `error` object (e.g. `moderation_details`)."""

    status: int
    message: str
    type: str = INVALID
    param: str | None = None
    code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def error_body(err: ApiError, style: str) -> dict[str, Any]:
    if style == "code_msg":
        return {"code": err.status, "msg": err.message, "data": None}
    if style == "string":
        return {"error": err.message}
    inner: dict[str, Any] = {"message": err.message, "type": err.type, "param": err.param, "code": err.code}
    inner.update(err.extra)
    return {"error": inner}


def invalid(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def unknown_parameter(name: str) -> ApiError:
    return invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")


def missing_parameter(name: str) -> ApiError:
    return invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def bad_value(name: str, value: Any, allowed: tuple[str, ...] | None = None) -> ApiError:
    hint = f" Supported values are: {', '.join(repr(a) for a in allowed)}." if allowed else ""
    return invalid(f"Invalid value: {value!r} for '{name}'.{hint}", name)


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404, f"The model `{model}` does not exist or you do not have access to it.", param=None, code="model_not_found"
    )


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(0, round(seconds))), "retry-after-ms": str(int(seconds * 1000))}


def rate_limit_headers(retry_after: float, *, remaining: int = 0) -> dict[str, str]:
    """`x-ratelimit-*` as OpenAI sends them (reset as a duration like `1s` / `12ms`)."""
    reset = f"{int(retry_after * 1000)}ms" if retry_after < 1 else f"{retry_after:g}s"
    return {
        "x-ratelimit-limit-requests": "50",
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
        "x-ratelimit-limit-tokens": "100000",
        "x-ratelimit-remaining-tokens": "100000" if remaining else "0",
        "x-ratelimit-reset-tokens": reset,
    }


def fault_error(fault: Fault, spec: ModelSpec | None) -> ApiError:
    """The error answer for an error-kind fault (not hang/truncated/html/expired_url)."""
    kind = fault.kind
    if kind == "rate_limit":
        wait = fault.retry_after if fault.retry_after is not None else 1.0
        return ApiError(
            429,
            fault.message or "Rate limit reached for images per minute. Please try again in 1s.",
            type="requests",
            code="rate_limit_exceeded",
            headers={**rate_limit_headers(wait), **_retry_headers(wait)},
        )
    if kind == "insufficient_quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return ApiError(429, fault.message or message, type="insufficient_quota", code="insufficient_quota")
    if kind == "no_credits":
        message = "Insufficient credits: your balance is too low for this request. Top up to continue."
        return ApiError(402, fault.message or message, type="insufficient_quota", code="insufficient_credits")
    if kind == "server_error":
        status = fault.status or 500
        message = {500: "The server had an error while processing your request. Sorry about that!"}.get(
            status, "Bad gateway." if status == 502 else "The engine is currently overloaded, please try again later."
        )
        headers = _retry_headers(fault.retry_after) if fault.retry_after is not None else {}
        return ApiError(status, fault.message or message, type="server_error", code=None, headers=headers)
    if kind == "model_not_found":
        return model_not_found(spec.id if spec else "unknown")
    if kind == "moderation":
        if spec is not None and not spec.is_gpt:
            return invalid(fault.message or CONTENT_POLICY, None, "content_policy_violation")
        details = {"moderation_stage": fault.stage, "categories": ["other"]}
        return ApiError(
            400,
            fault.message or MODERATION,
            type="image_generation_user_error",
            code="moderation_blocked",
            extra={"moderation_details": details},
        )
    raise ValueError(f"fault kind {kind!r} is not an error answer")
