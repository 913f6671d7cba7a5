"""Error envelopes exactly as the wire shows them: `message` first, then `code`, then `metadata`,
and a top-level `user_id` whenever the request was authenticated.

`fault_error` turns an `http` / `error_200` fault into (status, body, headers); the route helpers
(`invalid`, `not_valid_model`, `wrong_modalities`, `wrong_endpoint`) cover request validation.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .faults import Fault

DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request parameters",
    401: "User not found.",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Request blocked: prompt injection patterns detected",
    404: "No endpoints found for {model}.",
    408: "Operation timed out. Please try again later.",
    413: "Request payload too large",
    422: "Invalid argument",
    429: "Rate limit exceeded",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "Service temporarily unavailable",
    524: "Request timed out. Please try again later.",
    529: "Provider returned error",
}
CREDITS_MAX_TOKENS = (
    "This request requires more credits, or fewer max_tokens. You requested up to 65536 tokens, but can "
    "only afford 14114. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid "
    "account"
)
MODERATION_MESSAGE = "Your chosen model requires moderation and your input was flagged"

# status → (availability code, error_type, retryable)
_AVAILABILITY = {
    400: ("wrong_endpoint", "invalid_request", False),
    403: ("region_restricted", "permission_denied", False),
    404: ("no_endpoints", "not_found", False),
    429: ("capacity_exhausted", "rate_limit_exceeded", True),
    503: ("temporarily_unavailable", "provider_overloaded", True),
}
_STRING_CODES = {400: "invalid_request", 402: "payment_required", 429: "rate_limit_exceeded"}


def user_id_for(key: str) -> str:
    """A stable fake user id per API key, like `user_2dHF…`."""
    return "user_" + hashlib.sha256(key.encode()).hexdigest()[:27]


def envelope(
    message: str,
    code: int | str | None,
    *,
    metadata: dict[str, Any] | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["code"] = code
    if metadata:
        error["metadata"] = metadata
    body: dict[str, Any] = {"error": error}
    if user_id:
        body["user_id"] = user_id
    return body


def _truncate_middle(text: str, limit: int = 100) -> str:
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return text[:half] + "..." + text[-(limit - 3 - half) :]


def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def availability_body(
    status: int, model: str, *, retry_after: float | None, user_id: str | None, code: str | None = None
) -> dict[str, Any]:
    """The 2026-08 model-availability form: `error_type` + `http_status`, no `code`."""
    avail_code, error_type, retryable = _AVAILABILITY.get(status, ("temporarily_unavailable", "server", True))
    avail_code = code or avail_code
    if avail_code == "capacity_exhausted":
        message = f"All providers for {model} are at capacity."
    elif avail_code == "wrong_endpoint":
        message = f"{model} is not available on this endpoint."
    else:
        message = f"{model} is temporarily unavailable."
    if retry_after is not None:
        message += f" Retry after {_retry_after_text(retry_after)} seconds."
    availability: dict[str, Any] = {"code": avail_code, "retryable": retryable}
    if retry_after is not None:
        availability["retry_after"] = retry_after
    availability["requested_models"] = [model]
    availability["docs_url"] = f"https://openrouter.ai/docs/errors#{avail_code}"
    error: dict[str, Any] = {
        "message": message,
        "error_type": error_type,
        "http_status": status,
        "availability": availability,
        "metadata": {"previous_errors": [{"provider": "emulated", "code": avail_code, "status": status}]},
    }
    body: dict[str, Any] = {"error": error}
    if user_id:
        body["user_id"] = user_id
    return body


def _upstream_metadata(model: str, provider: str) -> dict[str, Any]:
    return {
        "raw": f"{model} is temporarily rate-limited upstream. Please retry shortly, or add your own key to "
        "accumulate your rate limits: https://openrouter.ai/settings/integrations",
        "provider_name": provider,
        "is_byok": False,
        "provider_error_code": "engine_overloaded",
        "limit_source": "upstream_provider_shared_pool",
    }


def fault_error(
    fault: Fault, *, model: str, provider: str, prompt: str, user_id: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for an `http` or `error_200` fault."""
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = _retry_after_text(fault.retry_after)
    if fault.kind == "error_200":
        code_200 = fault.code if fault.code is not None else 429
        meta = {"raw": f"{model}: upstream provider returned an error", "provider_name": provider}
        meta.update(fault.metadata or {})
        body_200 = envelope(fault.message or "Provider returned error", code_200, metadata=meta, user_id=user_id)
        return 200, body_200, {}

    status = fault.status or 500
    variant = fault.variant
    if variant == "availability":
        body = availability_body(status, model, retry_after=fault.retry_after, user_id=user_id)
        if fault.message:
            body["error"]["message"] = fault.message
        return status, body, headers

    message = fault.message or DEFAULT_MESSAGES[status].format(model=model)
    code: int | str = status
    metadata: dict[str, Any] = {}
    if variant == "platform":
        reset_ms = int((time.time() + (fault.retry_after or 60)) * 1000)
        headers.update({"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_ms)})
    elif variant == "upstream":
        message = fault.message or "Provider returned error"
        metadata = _upstream_metadata(model, provider)
    elif variant == "moderation":
        message = fault.message or MODERATION_MESSAGE
        metadata = {
            "reasons": ["violence"],
            "flagged_input": _truncate_middle(prompt),
            "provider_name": provider,
            "model_slug": model,
        }
    elif variant == "credits_max_tokens":
        message = fault.message or CREDITS_MAX_TOKENS
    elif variant == "string_code":
        code = _STRING_CODES.get(status, "server_error")
    elif status in (502, 529):
        metadata = {"raw": f"{provider}: upstream request failed", "provider_name": provider}
    elif status == 403:
        metadata = {"patterns": ["ignore previous instructions"]}
    if fault.code is not None:
        code = fault.code
    metadata.update(fault.metadata or {})
    return status, envelope(message, code, metadata=metadata, user_id=user_id), headers


def invalid(message: str = "Invalid request parameters", *, user_id: str | None, **meta: Any) -> dict[str, Any]:
    """400 for a malformed request; `meta` lands in `error.metadata` (e.g. `param`)."""
    return envelope(message, 400, metadata={"error_type": "invalid_request", **meta}, user_id=user_id)


def not_valid_model(model: str, *, user_id: str | None) -> dict[str, Any]:
    return envelope(f"{model} is not a valid model ID", 400, user_id=user_id)


def wrong_modalities(modalities: list[str], *, user_id: str | None) -> dict[str, Any]:
    """404 when no endpoint of the model produces the requested output modalities."""
    return envelope(
        "No endpoints found that support the requested output modalities: " + ", ".join(modalities),
        404,
        metadata={
            "routing_funnel": [{"step": "Initial Endpoints", "endpoint_count": 1}],
            "failed_routing_step": "Filter by Model Output Modalities",
        },
        user_id=user_id,
    )


def wrong_endpoint(model: str, *, user_id: str | None) -> dict[str, Any]:
    """400 `wrong_endpoint` when a chat-only model is called on the Image API."""
    body = availability_body(400, model, retry_after=None, user_id=user_id, code="wrong_endpoint")
    body["error"]["message"] = (
        f"{model} is not available on the Image API. Use /api/v1/chat/completions with modalities."
    )
    return body
