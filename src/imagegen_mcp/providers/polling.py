"""The one polling loop every submit-then-poll provider uses (Stability, BFL, fal, Replicate, ComfyUI…).

A provider submits its job, then hands :func:`poll` a ``check`` coroutine that asks the API once and
answers a :class:`PollStatus`. ``poll`` waits between checks with a growing interval, reports
progress (the provider's own message, or how long it has waited), stops at an overall deadline, and —
on that deadline, on an error, or when the host cancels the call — calls the provider's own ``cancel``
(shielded, so the cancel request is sent even while the call is being torn down) before giving up.

Progress values must only ever grow (MCP: "progress is absolute and must increase"), yet several
reporters share one call: the pipeline's heartbeat, the router's fallback notes, this loop.
:func:`monotonic` (in :mod:`.base`, re-exported here; start-up must not import this module) wraps
the call's progress function once (the pipeline does it for every call), so
whatever each reporter passes, the host sees a strictly increasing value. ``poll`` itself reports
seconds waited as the value (no total: a queue position or a fraction is not a duration), and puts the
provider's fraction in the message ("running (40 %)").
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from imagegen_mcp.errors import ProviderTimeoutError
from imagegen_mcp.providers.base import ProgressFn, monotonic

__all__ = ["PollStatus", "monotonic", "poll"]

T = TypeVar("T")


@dataclass(frozen=True)
class PollStatus(Generic[T]):
    """One answer of the provider's status endpoint."""

    done: bool
    result: T | None = None
    message: str | None = None  # e.g. "queued (position 3)", "running: step 4/20"
    fraction: float | None = None  # 0..1 when the provider reports it


async def poll(
    check: Callable[[], Awaitable[PollStatus[T]]],
    *,
    label: str,
    deadline_s: float,
    cancel: Callable[[], Awaitable[None]] | None = None,
    progress: ProgressFn | None = None,
    interval_s: float = 1.0,
    max_interval_s: float = 10.0,
    growth: float = 1.5,
) -> T:
    """Check until done; raise :class:`ProviderTimeoutError` after ``deadline_s`` (cancelling upstream).

    ``cancel`` runs whenever the loop ends without a result — deadline, host cancellation, or an
    error raised by ``check`` — so an abandoned job is never left running (and billed) upstream.
    """
    started = time.monotonic()
    wait = interval_s
    finished = False
    report = monotonic(progress)
    try:
        while True:
            status = await check()
            if status.done:
                finished = True
                if status.result is None:
                    raise AssertionError(f"{label}: a finished poll must carry its result")  # a provider bug
                return status.result
            elapsed = time.monotonic() - started
            if report is not None:
                message = status.message or f"waiting for {label}"
                if status.fraction is not None:
                    message = f"{message} ({max(0.0, min(1.0, status.fraction)) * 100:.0f} %)"
                await report(elapsed, None, f"{message} — {elapsed:.0f} s")
            if elapsed + wait > deadline_s:
                raise ProviderTimeoutError(
                    f"{label} did not finish within {deadline_s:.0f} s (the job was cancelled upstream)",
                    "retry later, raise IMAGEGEN_TIMEOUT_S, or use enqueue_images for slow models",
                )
            await anyio.sleep(wait)
            wait = min(max_interval_s, wait * growth)
    finally:
        if not finished and cancel is not None:
            # Best effort: the job is abandoned either way, so a failing cancel is not an error.
            with anyio.CancelScope(shield=True), anyio.move_on_after(10), contextlib.suppress(Exception):
                await cancel()
