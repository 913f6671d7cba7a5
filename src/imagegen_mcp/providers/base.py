"""The provider protocol: the one seam between the router and whoever draws the pixels.

A provider is a small class that declares what it can do (:class:`Capabilities`: the operations
it supports, the arguments it honours for each, its default models), turns a
:class:`ProviderRequest` into a :class:`ProviderResult`, lists its models, and checks itself for
``preflight``. Adding a provider touches only ``providers/`` (and its emulator in ``tests/``).

The contract every provider keeps:

- It raises only :class:`~imagegen_mcp.errors.ProviderError` subclasses, translated from its wire
  format at one boundary (its own module), and never lets a key into a message.
- It records every HTTP attempt that may have been billed in the :class:`Call`'s ledger
  (``call.record``), inline retries included, so ``cost_usd`` is every billed attempt's cost.
- It returns image bytes, or URLs the router downloads at once with the safe downloader
  (:mod:`imagegen_mcp.imaging.download`): ``https`` or the provider's configured origin only.
- Cancellation (AnyIO) stops its upstream request; submit-then-poll providers use
  :func:`imagegen_mcp.providers.polling.poll`, which calls their own cancel endpoint.
- An argument it cannot honour is absent from ``Capabilities.operations[op]``: the router then
  skips it (or, when it is pinned, refuses before any request). Nothing is silently dropped.

What a :class:`ProviderRequest` carries per operation (the pipeline has checked and prepared it all;
images are data URLs, or ``https`` URLs the user gave — :func:`imaging.download.input_bytes` turns
either into bytes for APIs that take files):

- ``generate`` — ``prompt``; ``input_images`` are references in order (``options["consistency"]``:
  ``strict|balanced|loose`` when set), or the v1 ``baseline_image`` alone.
- ``edit`` — ``input_images[0]`` the image, any further ones references; ``prompt`` the instruction;
  ``options["strength"]`` 0–1 (how far from the image; None = the provider's default).
- ``inpaint`` / ``erase`` — ``input_images[0]`` and ``mask`` (:mod:`imaging.masks` form: ``L`` PNG the
  image's size, white = change); ``prompt`` says what goes in the area (``erase`` may have none).
- ``outpaint`` — ``input_images[0]``; ``options["expand"]`` a full ``{left, right, up, down}`` in
  pixels (a target ``aspect_ratio`` is already turned into it); inpaint-only APIs build their canvas
  with :func:`imaging.masks.outpaint_canvas`.
- ``style_transfer`` — ``input_images[0]`` the content, ``options["style_image"]`` the style.
- ``variation`` / ``remove_background`` — ``input_images[0]``; ``prompt`` optional (may be ``""``).
- ``upscale`` — ``input_images[0]``; ``options["scale"]`` 2 or 4; ``options["mode"]``
  ``fast|conservative|creative`` (creative has a ``prompt``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from imagegen_mcp.errors import ImagegenError
from imagegen_mcp.models import AspectRatio, ImageSize, PreflightCheck, Surface
from imagegen_mcp.models import Operation as Operation  # defined with the request models; re-exported here

OPERATIONS: tuple[Operation, ...] = (
    "generate", "edit", "inpaint", "outpaint", "erase", "style_transfer", "variation", "remove_background", "upscale"
)  # fmt: skip

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]

# The arguments a request can carry beyond the prompt and model. A provider lists, per operation,
# the ones it honours; the router compares them with the ones a request actually sets.
ARGUMENTS = frozenset(
    {
        "n", "image_size", "aspect_ratio", "negative_prompt", "seed", "background", "output_format",
        "input_images", "mask", "surface", "strength", "expand", "scale", "mode", "style_image", "quality",
        "consistency",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ModelInfo:
    """One model a provider serves, and the operations it can run."""

    id: str
    operations: frozenset[Operation] = frozenset({"generate"})
    note: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; used by the router to build chains and by preflight to report."""

    name: str
    # operation -> the request arguments honoured for it (beyond prompt and model).
    operations: Mapping[Operation, frozenset[str]]
    # operation -> the model used when the request names none.
    default_models: Mapping[Operation, str] = field(default_factory=dict)
    max_images: int = 4
    offline: bool = False  # nothing leaves the machine
    key_variables: tuple[str, ...] = ()  # what configures it, for fixes ("export OPENAI_API_KEY=…")
    notes: str = ""

    def supports(self, operation: Operation) -> bool:
        return operation in self.operations

    def unhonoured(self, operation: Operation, arguments: frozenset[str]) -> frozenset[str]:
        """The requested arguments this provider cannot honour for ``operation``."""
        return arguments - self.operations.get(operation, frozenset())


@dataclass(frozen=True)
class ProviderRequest:
    prompt: str
    model: str
    operation: Operation = "generate"
    image_size: ImageSize | None = None
    aspect_ratio: AspectRatio | None = None
    n: int = 1
    surface: Surface = "auto"
    negative_prompt: str | None = None
    seed: int | None = None
    background: Literal["auto", "transparent", "opaque"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    # Input images (baseline, references, the image to edit): data URLs or https URLs, in order.
    input_images: tuple[str, ...] = ()
    mask: str | None = None  # a data URL: white (or transparent) = change
    # Operation-specific settings (strength, expand, scale, mode, quality…), named as in ARGUMENTS.
    options: Mapping[str, Any] = field(default_factory=dict)

    def arguments(self) -> frozenset[str]:
        """The optional arguments this request sets: what a provider must honour to take it."""
        present = {name for name, value in self.options.items() if value is not None}
        for name in ("image_size", "aspect_ratio", "negative_prompt", "seed", "background", "output_format", "mask"):
            if getattr(self, name) is not None:
                present.add(name)
        if self.input_images:
            present.add("input_images")
        if self.n > 1:
            present.add("n")
        if self.surface != "auto":
            present.add("surface")
        return frozenset(present)


@dataclass(frozen=True)
class ProviderImage:
    """Raw bytes as the provider sent them, with the MIME type sniffed from those bytes."""

    data: bytes
    mime_type: str


@dataclass
class ProviderResult:
    images: list[ProviderImage]
    model: str
    provider: str
    generation_id: str | None = None
    cost_usd: float | None = None
    text: str | None = None
    finish_reason: str | None = None
    surface: str | None = None
    upstream: dict[str, str] = field(default_factory=dict)  # e.g. the upstream provider's display name
    # Result URLs not yet fetched: the router downloads them at once (they expire) with the safe downloader.
    urls: list[str] = field(default_factory=list)
    # Some of n images failed after others were billed: the images here are kept, this says why the rest are missing.
    partial_error: ImagegenError | None = None
    # The provider's response metadata for receipts (ids, status, finish reasons, usage, seeds, notes);
    # never image data, never a key.
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attempt:
    """One request to one provider that may have been billed: the ``attempts[]`` entry of a result."""

    provider: str
    model: str
    ok: bool
    elapsed_s: float
    cost_usd: float | None = None
    error: ImagegenError | None = None
    generation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        error = {"code": self.error.code, "message": self.error.message} if self.error else None
        return {
            "provider": self.provider,
            "model": self.model,
            "ok": self.ok,
            "error": error,
            "cost_usd": self.cost_usd,
            "elapsed_s": round(self.elapsed_s, 3),
            "generation_id": self.generation_id,
        }


@dataclass
class Call:
    """What a provider gets besides the request: progress reporting and the call's attempt ledger."""

    progress: ProgressFn | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def attempt(self, provider: str, model: str) -> AttemptTimer:
        """``with call.attempt(...) as a: …; a.succeeded(cost)`` — records the attempt however it ends."""
        return AttemptTimer(self, provider, model)

    @property
    def cost_usd(self) -> float | None:
        """Every billed attempt's cost; None when no attempt reported one."""
        costs = [a.cost_usd for a in self.attempts if a.cost_usd is not None]
        return round(sum(costs), 10) if costs else None

    async def report(self, message: str) -> None:
        if self.progress is not None:
            await self.progress(0.0, None, message)


class AttemptTimer:
    """Times one attempt and records it on exit: ok with its cost, or the error it raised (with its cost).

    Nested timers record only the innermost attempts: the router wraps each provider in one, and a
    provider with its own retries wraps each HTTP attempt; the router's then records nothing more.
    Nesting is tracked through a context variable, so concurrent attempts (``n`` chat calls side by
    side) each record themselves.
    """

    def __init__(self, call: Call, provider: str, model: str) -> None:
        self._call, self._provider, self._model = call, provider, model
        self._cost: float | None = None
        self._generation_id: str | None = None
        self._ok = False

    def succeeded(self, cost_usd: float | None, generation_id: str | None = None) -> None:
        self._ok, self._cost, self._generation_id = True, cost_usd, generation_id

    def __enter__(self) -> AttemptTimer:
        self._started = time.monotonic()
        self._parent = _CURRENT_ATTEMPT.get()
        self._token = _CURRENT_ATTEMPT.set(self)
        self._has_inner = False
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        from imagegen_mcp.errors import ProviderError

        _CURRENT_ATTEMPT.reset(self._token)
        if self._has_inner:
            return  # attempts inside were recorded one by one (a provider's own retries)
        if self._parent is not None:
            self._parent._has_inner = True
        if exc is not None and not isinstance(exc, ImagegenError):
            return  # cancellation or a bug: nothing the provider reported, nothing to bill
        error = exc if isinstance(exc, ImagegenError) else None
        cost = self._cost
        generation_id = self._generation_id
        if isinstance(exc, ProviderError):
            cost, generation_id = exc.cost_usd, exc.generation_id
        self._call.record(
            Attempt(
                provider=self._provider,
                model=self._model,
                ok=self._ok and error is None,
                elapsed_s=time.monotonic() - self._started,
                cost_usd=cost,
                error=error,
                generation_id=generation_id,
            )
        )


_CURRENT_ATTEMPT: ContextVar[AttemptTimer | None] = ContextVar("imagegen_current_attempt", default=None)


@runtime_checkable
class Provider(Protocol):
    capabilities: Capabilities

    @property
    def configured(self) -> bool:
        """Whether it has what it needs to be called (a key, a base URL); ``local``/``placeholder`` always."""
        ...

    @property
    def origin(self) -> str | None:
        """The configured API origin (scheme://host:port) whose result URLs may be fetched without https."""
        ...

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        """Make the images. Cancellation (AnyIO) must stop any upstream request."""
        ...

    async def models(self) -> list[ModelInfo]:
        """Static defaults plus what the API lists, where it lists them (cached per process)."""
        ...

    async def knows_model(self, model: str) -> bool:
        """Whether ``model`` is an id this provider serves (routing of ``model`` without ``provider``)."""
        ...

    async def check(self, model: str | None) -> list[PreflightCheck]:
        """Readiness checks for preflight; each failing check carries a copy-paste fix."""
        ...

    async def aclose(self) -> None: ...


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the loopback spellings folded into one (DESIGN: provider URLs)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("localhost", "127.0.0.1", "::1"):
        host = "loopback"
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}"


_PROGRESS_STEP = 0.001  # the least a repeated or smaller progress value is raised by


class _Monotonic:
    """A progress function whose values strictly increase, whatever its callers pass (MCP: progress must
    increase). Heartbeat, router and polling loop share one call's progress; this keeps it growing."""

    def __init__(self, inner: ProgressFn) -> None:
        self.inner = inner
        self.last: float | None = None

    async def __call__(self, progress: float, total: float | None, message: str) -> None:
        value = progress if self.last is None or progress > self.last else self.last + _PROGRESS_STEP
        self.last = value  # set before awaiting: concurrent reporters see it at once
        if total is not None and total < value:
            total = None  # a total below the value would read as "more than done"
        await self.inner(value, total, message)


def monotonic(progress: ProgressFn | None) -> ProgressFn | None:
    """``progress`` made strictly increasing (wrapping an already-wrapped one returns it unchanged)."""
    if progress is None or isinstance(progress, _Monotonic):
        return progress
    return _Monotonic(progress)
