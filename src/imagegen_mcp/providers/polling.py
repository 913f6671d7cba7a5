"""The one polling loop every submit-then-poll provider uses (Stability, BFL, fal, Replicate, ComfyUI…).

A provider submits its job, then hands :func:`poll` a ``check`` coroutine that asks the API once and
answers a :class:`PollStatus`. ``poll`` waits between checks with a growing interval, reports
progress (the provider's own message, or how long it has waited), stops at an overall deadline, and —
on that deadline or when the host cancels the call — calls the provider's own ``cancel`` (shielded,
so the cancel request is sent even while the call is being torn down) before giving up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from imagegen_mcp.errors import ProviderTimeoutError
from imagegen_mcp.providers.base import ProgressFn

T = TypeVar("T")


@dataclass(frozen=True)
class PollStatus(Generic[T]):
    """One answer of the provider's status endpoint."""

    done: bool
    result: T | None = None
    message: str | None = None  # e.g. "queued (position 3)", "running: 40 %"
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
    """Check until done; raise :class:`ProviderTimeoutError` after ``deadline_s`` (cancelling upstream)."""
    started = time.monotonic()
    wait = interval_s
    finished = False
    try:
        while True:
            status = await check()
            if status.done:
                finished = True
                if status.result is None:
                    raise AssertionError(f"{label}: a finished poll must carry its result")  # a provider bug
                return status.result
            elapsed = time.monotonic() - started
            if progress is not None:
                message = status.message or f"waiting for {label} ({elapsed:.0f} s)"
                await progress(elapsed, None if status.fraction is None else 1.0, message)
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
