"""One exception tree for the whole project.

Every error carries a ``message`` (what went wrong), a ``fix`` (what to do about it) and a stable
``code`` that scripts and receipts can switch on. Foreign errors (httpx2, OSError, Pillow) are
translated into this tree at one boundary each: the OpenRouter client, the image store and the
config loader. The MCP layer turns any ``ImagegenError`` into a ``ToolError`` (``isError: true``)
with the text ``"<message> — <fix>"``; nothing else ever reaches a client.

    ImagegenError
    ├── ConfigError                  a bad environment value (names the variable)
    ├── RequestError                 a bad tool/CLI argument
    │   └── OutPathError             an ``out`` that escapes the output directory
    ├── ImageError                   bytes that are not a supported image
    ├── StorageError                 a file could not be written
    └── ProviderError                anything a provider reported
        ├── AuthError                401: key missing, wrong or revoked
        ├── CreditsError             402: no credits left
        ├── ForbiddenError           403: permissions or guardrails
        │   └── ModerationError      403: the prompt was flagged (carries the reasons)
        ├── ModelNotFoundError       404: unknown model, wrong surface or modalities
        ├── BadRequestError          400, 413, 422: the provider refused the request as written
        ├── NoImageError             the provider answered but returned no image (refusal, safety)
        ├── InvalidResponseError     a body we cannot make sense of (or a result URL we will not follow)
        ├── ResultExpiredError       a result URL that expired before it was fetched (billed all the same)
        └── RetryableError           worth trying again later
            ├── RateLimitError       429 (``retry_after`` from ``Retry-After``)
            ├── ProviderDownError    5xx, 524, 529
            ├── ProviderTimeoutError 408 or our own timeout
            └── ConnectionFailedError  reset, refused, DNS

Messages are built from provider text that could, in theory, echo a request header. Every
message passes through :func:`redact` with the configured secrets before it leaves the process.
"""

from __future__ import annotations

import re
from typing import Any


class ImagegenError(Exception):
    """Base class: a message the model can act on, and the fix."""

    code: str = "error"
    retryable: bool = False

    def __init__(self, message: str, fix: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} — {self.fix}" if self.fix else self.message

    def to_dict(self) -> dict[str, Any]:
        """The ``error{code, message, fix}`` object used in results and receipts."""
        return {"code": self.code, "message": self.message, "fix": self.fix}


class ConfigError(ImagegenError):
    code = "config_invalid"


class RequestError(ImagegenError):
    code = "invalid_request"


class OutPathError(RequestError):
    code = "out_path_refused"


class ImageError(ImagegenError):
    code = "not_an_image"


class StorageError(ImagegenError):
    code = "storage_failed"


class ProviderError(ImagegenError):
    """Anything a provider reported. ``status`` is the HTTP status when there was one."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        fix: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        generation_id: str | None = None,
        cost_usd: float | None = None,
    ) -> None:
        super().__init__(message, fix, code=code)
        self.status = status
        self.generation_id = generation_id
        self.cost_usd = cost_usd


class AuthError(ProviderError):
    code = "auth_failed"


class CreditsError(ProviderError):
    code = "insufficient_credits"


class ForbiddenError(ProviderError):
    code = "forbidden"


class ModerationError(ForbiddenError):
    code = "moderation_flagged"

    def __init__(self, message: str, fix: str = "", *, reasons: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, fix, **kw)
        self.reasons = reasons or []


class ModelNotFoundError(ProviderError):
    code = "model_not_found"


class BadRequestError(ProviderError):
    code = "bad_request"


class NoImageError(ProviderError):
    code = "no_image"

    def __init__(self, message: str, fix: str = "", *, finish_reason: str | None = None, **kw: Any) -> None:
        super().__init__(message, fix, **kw)
        self.finish_reason = finish_reason


class InvalidResponseError(ProviderError):
    code = "invalid_response"


class ResultExpiredError(ProviderError):
    code = "result_url_expired"


class RetryableError(ProviderError):
    """A failure that may succeed later. ``retry_after`` is the server's hint in seconds."""

    retryable = True
    code = "provider_retryable"

    def __init__(self, message: str, fix: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, fix, **kw)
        self.retry_after = retry_after


class RateLimitError(RetryableError):
    code = "rate_limited"


class ProviderDownError(RetryableError):
    code = "provider_unavailable"


class ProviderTimeoutError(RetryableError):
    code = "timeout"


class ConnectionFailedError(RetryableError):
    code = "connection_failed"


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception to surface from a task group: the first project error, else the first leaf.

    AnyIO wraps whatever a task group's tasks raise in an ``ExceptionGroup``; callers of this
    project want the one error that explains the failure, with its message and fix.
    """
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[BaseException]) -> None:
        for exc in g.exceptions:
            if isinstance(exc, BaseExceptionGroup):
                walk(exc)
            else:
                leaves.append(exc)

    walk(group)
    for exc in leaves:
        if isinstance(exc, ImagegenError):
            return exc
    return leaves[0] if leaves else group


_KEY_SHAPE = re.compile(r"sk-or-[A-Za-z0-9_-]{8,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove every configured secret, and anything shaped like an OpenRouter key, from ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask_secret(secret))
    return _KEY_SHAPE.sub(lambda m: mask_secret(m.group(0)), text)


def mask_secret(secret: str) -> str:
    """``sk-or-v1-abc…xyz`` style: enough to recognise a key, never enough to use it."""
    if len(secret) <= 12:
        return "****"
    return f"{secret[:8]}…{secret[-3:]}"
