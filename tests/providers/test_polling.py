"""The one polling helper: progress that only grows, the provider's cancel on every way out but success."""

from __future__ import annotations

import itertools

import anyio
import pytest

from imagegen_mcp import errors as e
from imagegen_mcp.providers.polling import PollStatus, monotonic, poll

pytestmark = pytest.mark.anyio


async def test_monotonic_progress_strictly_increases_whatever_the_reporters_pass() -> None:
    seen: list[tuple[float, float | None]] = []

    async def sink(value: float, total: float | None, message: str) -> None:
        seen.append((value, total))

    report = monotonic(sink)
    assert report is not None and monotonic(report) is report  # wrapped once
    for value, total in [(0.0, None), (5.0, None), (0.0, None), (2.0, 1.0), (5.0, None), (9.0, 10.0)]:
        await report(value, total, "x")
    values = [v for v, _ in seen]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert seen[3][1] is None and seen[5] == (9.0, 10.0)  # a total below the value is dropped


async def test_poll_reports_growing_progress_with_the_fraction_in_the_message() -> None:
    answers = iter([PollStatus[str](False, message="queued"), PollStatus[str](False, fraction=0.5),
                    PollStatus[str](True, result="done")])  # fmt: skip
    seen: list[tuple[float, str]] = []

    async def sink(value: float, total: float | None, message: str) -> None:
        seen.append((value, message))

    async def check() -> PollStatus[str]:
        return next(answers)

    assert await poll(check, label="job", deadline_s=10, progress=sink, interval_s=0.001) == "done"
    assert seen[0][1].startswith("queued") and "(50 %)" in seen[1][1] and seen[1][0] > seen[0][0]


async def test_poll_calls_the_providers_cancel_when_the_host_cancels_and_at_the_deadline() -> None:
    cancels: list[str] = []

    async def pending() -> PollStatus[str]:
        return PollStatus(False)

    async def cancel() -> None:
        cancels.append("sent")

    with anyio.move_on_after(0.05):
        await poll(pending, label="job", deadline_s=60, cancel=cancel, interval_s=0.01)
    assert cancels == ["sent"]
    with pytest.raises(e.ProviderTimeoutError):
        await poll(pending, label="job", deadline_s=0.02, cancel=cancel, interval_s=0.01)
    assert cancels == ["sent", "sent"]
