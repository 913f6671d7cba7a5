"""The typed shapes of the queue: ``enqueue_images`` and ``queue_status`` results, and job views.

They follow DESIGN.md's contract (``request_id``, ``jobs[{job_id, index, status, out}]``, ``hints[]``
for enqueueing; ``jobs[{job_id, request_id, status, attempts, images, error}]`` and ``totals`` for
status) and add what a user asks next: timings, cost, where each file will land, the next retry.
The tools' ``outputSchema`` and the CLI's ``--json`` output are these models dumped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from imagegen_mcp.models import Hint, SavedImage

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

MAX_COUNT = 16
MAX_REQUEST_ID = 128


class JobError(BaseModel):
    """Why a job failed (or why its last attempt failed, while it waits for a retry)."""

    code: str
    message: str
    fix: str
    error_class: str | None = Field(default=None, description="The project's exception class, e.g. CreditsError")


class EnqueuedJob(BaseModel):
    job_id: str
    index: int = Field(description="1-based position in the request; names the file <prefix>-NN")
    status: JobStatus
    out: str = Field(description="Where the image will be saved: absolute path without the suffix")


class EnqueueResult(BaseModel):
    """``structured_content`` of ``enqueue_images`` and ``imagegen-mcp enqueue --json``."""

    request_id: str
    jobs: list[EnqueuedJob]
    hints: list[Hint] = Field(default_factory=list)
    deduplicated: bool = Field(
        default=False, description="True when this request_id was already enqueued with the same payload"
    )
    manifest: str = Field(description="Absolute path of <prefix>-manifest.json (repeat with enqueue --from-manifest)")
    out_dir: str
    prefix: str


class JobView(BaseModel):
    """One job as ``queue_status`` and ``imagegen://jobs/{job_id}`` show it."""

    job_id: str
    request_id: str
    index: int
    status: JobStatus
    attempts: int = Field(description="Times the job was started, lost runs included")
    max_attempts: int = Field(description="Cap on attempts that ended in a failure (lost runs do not count)")
    lost_leases: int = Field(default=0, description="Runs lost to a worker that was killed, crashed or stopped")
    prompt: str
    out: str = Field(description="Target path without the suffix (the suffix follows the real format)")
    images: list[SavedImage] = Field(default_factory=list)
    error: JobError | None = Field(default=None, description="Set when the job failed")
    last_error: JobError | None = Field(default=None, description="The last failed attempt, while retries remain")
    model: str | None = None
    provider: str | None = None
    generation_id: str | None = None
    cost_usd: float | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    next_attempt_at: str | None = Field(default=None, description="When a queued retry becomes due")
    queued_s: float | None = Field(default=None, description="Seconds from enqueue to the first start")
    run_s: float | None = Field(default=None, description="Seconds from the first start to the finish")


class QueueTotals(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    cost_usd: float = 0.0


class QueueStatusResult(BaseModel):
    """``structured_content`` of ``queue_status`` and ``imagegen-mcp status --json``."""

    jobs: list[JobView]
    totals: QueueTotals = Field(description="Over the jobs shown")
    queue: QueueTotals = Field(description="Over the whole queue")
    finished: bool = Field(description="True when every job shown has finished")
    waited_s: float = 0.0


class CancelledJob(BaseModel):
    job_id: str
    status: JobStatus = Field(description="After the call: cancelled, running (being stopped), or as it finished")


class CancelResult(BaseModel):
    """``structured_content`` of ``cancel_jobs`` and ``imagegen-mcp cancel --json``."""

    jobs: list[CancelledJob]
