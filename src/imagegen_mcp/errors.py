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
    │   └── UnsavedImagesError       billed images could not be saved (kept in a recovery folder)
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

import errno
import re
from typing import Any


class ImagegenError(Exception):
    """Base class: a message the model can act on, and the fix."""

    code: str = "error"
    retryable: bool = False

    def __init__(self, message: str, fix: str = "", *, code: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if code is not None:
            self.code = code
        if retryable is not None:  # the class default, overridden where the raiser knows better
            self.retryable = retryable

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


class UnsavedImagesError(StorageError):
    """The provider billed images that could not be saved at their target.

    ``recovery`` is the folder holding their bytes (None when even that failed), ``cost_usd`` what
    was billed. A queued job keeps the folder and is retried for storage only.
    """

    code = "images_not_saved"

    def __init__(
        self,
        message: str,
        fix: str = "",
        *,
        recovery: str | None = None,
        cost_usd: float | None = None,
        generation_id: str | None = None,
    ) -> None:
        super().__init__(message, fix)
        self.recovery = recovery
        self.cost_usd = cost_usd
        self.generation_id = generation_id


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
    """A body we cannot make sense of: usually a gateway's HTML page sent with 200, or a cut-off body.

    Retryable (the queue tries again, up to its attempts cap; its fix says "retry"), except where
    the raiser knows the provider already billed a result we refused (``retryable=False``, or
    ``code="url_refused"``): trying again would bill again.
    """

    code = "invalid_response"
    retryable = True

    def __init__(self, message: str, fix: str = "", **kw: Any) -> None:
        super().__init__(message, fix, **kw)
        if self.code == "url_refused":
            self.retryable = False


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


def translate(exc: BaseException, *, paths: str = "out") -> ImagegenError | None:
    """A foreign exception whose cause is known, as a project error; ``None`` when it is not known.

    The last line of defence at each surface (tools, resources, CLI): the specific boundaries
    (store, queue, codec) should have translated these already. ``paths`` names the argument that
    chose the file names (``out`` for a tool, ``--out`` for the CLI), for a path that is too long.
    """
    if isinstance(exc, ImagegenError):
        return exc
    module = type(exc).__module__ or ""
    if module.startswith("PIL"):
        return _image_error(exc)
    if module == "sqlite3":
        return _queue_error(exc)
    if isinstance(exc, OSError):
        return _os_error(exc, paths)
    return None


def _os_error(exc: OSError, paths: str) -> StorageError:
    where = f" ({exc.filename})" if exc.filename else ""
    if len(where) > 120:
        where = f" ({str(exc.filename)[:60]}…, {len(str(exc.filename))} characters)"
    if exc.errno == errno.ENAMETOOLONG:
        return StorageError(
            f"a file name or path is too long for the file system{where}",
            f"use a shorter {paths} (each folder or file name at most 255 bytes)",
            code="path_too_long",
        )
    if exc.errno == errno.ENOSPC:
        return StorageError(f"the disk is full{where}", "free some space, or set IMAGEGEN_OUTPUT_DIR to another disk")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(
            f"permission denied{where}", f"make the directory writable, or choose another {paths} / IMAGEGEN_OUTPUT_DIR"
        )
    return StorageError(
        f"a file operation failed: {exc.strerror or type(exc).__name__}{where}",
        "check the output and queue directories (run preflight), then try again",
    )


def _queue_error(exc: BaseException) -> StorageError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StorageError(
            f"the job queue database is busy ({text})",
            "try again in a few seconds; if it persists, stop other imagegen-mcp workers on IMAGEGEN_QUEUE_DIR",
            code="queue_busy",
        )
    return StorageError(
        f"the job queue database failed ({type(exc).__name__}: {text})",
        "check that IMAGEGEN_QUEUE_DIR is on a local, writable disk with free space (run preflight), then try again",
        code="queue_failed",
    )


def _image_error(exc: BaseException) -> ImageError:
    if type(exc).__name__ == "DecompressionBombError":
        return ImageError(
            f"the image is too large to decode safely ({exc})",
            "use a smaller image (fewer pixels)",
            code="image_too_large",
        )
    return ImageError(
        f"the image could not be decoded ({type(exc).__name__})",
        "use a PNG, JPEG, WebP or GIF file that opens elsewhere",
    )


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
