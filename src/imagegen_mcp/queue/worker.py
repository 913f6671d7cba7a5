"""Drain the queue: claim due jobs, run each through the one pipeline, renew leases, retry, finish.

One :class:`Worker` runs ``concurrency`` jobs at a time. It is started in the server's lifespan
(one per process; ``IMAGEGEN_MAX_WORKERS`` jobs) and by ``imagegen-mcp worker`` for background or
cron drains. Several workers may share a queue; the store's leases keep them from running the
same job twice (see :mod:`imagegen_mcp.jobqueue`), and :mod:`imagegen_mcp.jobfiles` makes a job
interrupted at any moment converge on its next attempt.

Retries belong to the queue, not the provider: the worker's providers make one try per attempt
(:func:`queue_settings`), and a retryable failure (429, 5xx, timeout, connection) is queued again
with ``not_before`` = now + ``Retry-After`` when the provider sent one, else an exponential,
jittered backoff. Non-retryable failures (400, 401, 402, 403, no image) fail at once.

Paid, not saved: when saving fails after the provider billed (a full disk), the images are kept in
a recovery folder (:mod:`imagegen_mcp.storage.recovery`) and the job is queued again **for storage
only**: the next attempt stages the kept images instead of calling the provider, so it finishes
once space returns. Such retries cost nothing and are not capped by the attempts limit (the backoff
grows to ``max_backoff_s``); ``cancel_jobs`` ends one. The same holds when placing a staged image
under its final name fails.

Shutdown (cancellation): jobs claimed but not started go back to ``queued`` with their attempt
uncounted; jobs interrupted mid-generation go back to ``queued`` too (their attempt counted), so
a restart picks them up at once instead of waiting for the lease to expire.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from pydantic import ValidationError

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ImagegenError, StorageError, UnsavedImagesError, redact
from imagegen_mcp.fixes import fix_for
from imagegen_mcp.models import GenerateRequest, dump, problems
from imagegen_mcp.pipeline import LintOptions, Services, generate
from imagegen_mcp.queue import files as jobfiles
from imagegen_mcp.queue.jobs import Job, make_owner
from imagegen_mcp.queue.rows import CORRUPT_CODE, corrupt_error
from imagegen_mcp.queue.store import JobStore
from imagegen_mcp.storage import recovery
from imagegen_mcp.storage.objects import publish

log = logging.getLogger("imagegen_mcp.worker")

MAX_RETRY_AFTER_S = 3600.0
TROUBLE_FIRST_S = 0.2  # a queue that cannot be used is tried again after this, doubling …
TROUBLE_CAP_S = 5.0  # … up to this
MANIFEST_TMP_AGE_S = 600.0  # a manifest temp file this old has no writer any more
# Failures to write that may pass once space returns (a taken name or a bad path would not).
STORAGE_CODES = frozenset({StorageError.code, UnsavedImagesError.code})
EventFn = Callable[[str, Job], Awaitable[None]]


class Notifier:
    """A wake-up signal without lost wake-ups: wait on the generation you saw before looking."""

    def __init__(self) -> None:
        self.generation = 0
        self._event: anyio.Event | None = None

    def notify(self) -> None:
        self.generation += 1
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, seen: int, timeout: float) -> None:
        if self.generation != seen or timeout <= 0:
            return
        if self._event is None:
            self._event = anyio.Event()
        event = self._event
        with anyio.move_on_after(timeout):
            await event.wait()


class QueueTrouble:
    """The job queue cannot be used (read-only, damaged, unreachable): wait longer after each failure,
    and say what is wrong once, not on every try."""

    def __init__(self, first_s: float = TROUBLE_FIRST_S, cap_s: float = TROUBLE_CAP_S) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.delay = 0.0
        self.reported: str | None = None

    def failed(self, exc: ImagegenError) -> float:
        """Log ``exc`` if it is news; the seconds to wait before trying again."""
        self.note("the queue worker cannot use the job queue", exc)
        self.delay = self.first_s if self.delay == 0 else min(self.cap_s, self.delay * 2)
        return self.delay

    def note(self, what: str, exc: ImagegenError) -> None:
        text = str(exc)
        if text != self.reported:
            log.warning("%s (trying again every few seconds; said once): %s", what, text)
            self.reported = text

    def recovered(self) -> None:
        if self.reported is not None:
            log.warning("the job queue is usable again")
        self.reported = None
        self.delay = 0.0


@dataclass
class WorkerStats:
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    lost: int = 0
    cancelled: int = 0
    cost_usd: float = 0.0


@dataclass
class _Active:
    job: Job
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    phase: str = "claimed"  # claimed → generating → placing → finishing
    cancelled: bool = False  # stopped for cancel_jobs (not lost, not shut down)


def _request_of(job: Job) -> GenerateRequest:
    """The pipeline request a job stored; one that no longer validates fails the job, not the worker."""
    try:
        return GenerateRequest(**{**job.spec["request"], "out": jobfiles.staging_out(job.job_id), "overwrite": True})
    except (ValidationError, TypeError) as exc:
        detail = problems(exc) if isinstance(exc, ValidationError) else "unexpected arguments"
        error = corrupt_error(job.job_id, f"its stored request does not validate: {detail}")
        raise ImagegenError(error["message"], error["fix"], code=CORRUPT_CODE) from None


def queue_settings(settings: Settings) -> Settings:
    """A worker's settings: its providers make one try per attempt, because the queue schedules retries.

    Open the worker's services with these (``open_services(queue_settings(settings))``): the provider
    instances are the worker's own, so ``generate_image`` keeps its inline retries.
    """
    return dataclasses.replace(settings, max_attempts=1)


class Worker:
    def __init__(
        self,
        services: Services,
        queue: JobStore,
        *,
        concurrency: int = 2,
        max_jobs: int | None = None,
        once: bool = False,
        poll_interval_s: float = 1.0,
        heartbeat_interval_s: float | None = None,
        backoff_s: float | None = None,
        max_backoff_s: float = 300.0,
        housekeeping_interval_s: float = 10.0,
        wake: Notifier | None = None,
        on_event: EventFn | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.queue = queue
        self.concurrency = max(1, concurrency)
        self.max_jobs = max_jobs
        self.once = once
        self.poll_interval_s = poll_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s or max(0.2, queue.orphan_timeout_s / 3)
        self.backoff_s = self.settings.retry_backoff_s if backoff_s is None else backoff_s
        self.max_backoff_s = max_backoff_s
        self.housekeeping_interval_s = housekeeping_interval_s
        self.wake = wake or Notifier()
        self.on_event = on_event
        self.owner = make_owner()
        self.stats = WorkerStats()
        self.output_dir = self.settings.output_dir.resolve()
        self._active: dict[str, _Active] = {}
        self._last_housekeeping = 0.0
        self.trouble = QueueTrouble()

    @property
    def running(self) -> int:
        """Jobs this worker is running right now (not counting ones already finishing)."""
        return sum(1 for a in self._active.values() if a.phase != "finishing")

    # ------------------------------------------------------------------ loop

    async def run(self) -> WorkerStats:
        """Drain until cancelled (or, with ``once``, until nothing is left; or after ``max_jobs``).

        With ``once``, a queue that cannot be used (read-only, damaged) ends the run with its
        :class:`ImagegenError`; otherwise the worker backs off and tries again.
        """
        await self._housekeeping()
        beats = anyio.CancelScope()
        failure: ImagegenError | None = None

        async def heartbeats() -> None:
            with beats:
                await self._heartbeats()

        async with anyio.create_task_group() as tg:
            tg.start_soon(heartbeats)
            try:
                await self._drain(tg)
            except ImagegenError as exc:  # raised here, not in the group, so callers see it unwrapped
                failure = exc
            beats.cancel()  # jobs still writing their receipts finish before the group exits
        if failure is not None:
            raise failure
        await self._housekeeping()
        return self.stats

    async def _drain(self, tg: TaskGroup) -> None:
        while True:
            seen = self.wake.generation
            try:
                timeout = await self._poll(tg)
            except ImagegenError as exc:
                if self.once and not self._active:
                    raise
                timeout = self.trouble.failed(exc)  # not a busy loop: each failure waits longer
            if timeout is None:
                return
            await self.wake.wait(seen, timeout)

    async def _poll(self, tg: TaskGroup) -> float | None:
        """Claim what is due and start it; how long to wait before looking again (None: stop)."""
        if self._active:  # cancel_jobs from another process (PostgreSQL also announces it: cancel())
            self.cancel(await anyio.to_thread.run_sync(self.queue.cancel_requested, list(self._active)))
        budget = self.concurrency - len(self._active)
        if self.max_jobs is not None:
            budget = min(budget, self.max_jobs - self.stats.started)
            if budget <= 0 and not self._active and self.stats.started >= self.max_jobs:
                return None
        if budget <= 0:
            return self.poll_interval_s
        claimed = await anyio.to_thread.run_sync(self.queue.claim, self.owner, budget)
        self.trouble.recovered()
        for job in claimed:
            self._start(tg, job)
        timeout = self.poll_interval_s
        if not claimed:
            if not self._active:
                await self._housekeeping(throttle=True)
            count, due = await anyio.to_thread.run_sync(self.queue.pending)
            if self.once and count == 0 and not self._active:
                return None
            if due is not None:  # a retry waiting for its time: wake when it is due
                timeout = min(timeout, max(0.01, due - self.queue.clock()))
        return timeout

    def _start(self, tg: TaskGroup, job: Job) -> None:
        stale = self._active.get(job.job_id)
        if stale is not None:  # its lease expired (heartbeats stalled) and this worker claimed it again
            stale.scope.cancel()
        active = _Active(job)
        self._active[job.job_id] = active
        self.stats.started += 1
        tg.start_soon(self._run_job, active, name=f"job {job.job_id}")

    def cancel(self, job_ids: set[str] | list[str]) -> None:
        """Stop the runs of ``job_ids`` that this worker holds (``cancel_jobs``): the provider request
        is cancelled (AnyIO cancellation reaches the polling helper, which calls the provider's own
        cancel), and the job is recorded ``cancelled``. A run already recording its outcome finishes."""
        for job_id in job_ids:
            active = self._active.get(job_id)
            if active is not None and active.phase != "finishing" and not active.cancelled:
                log.info("%s: cancelled (cancel_jobs); stopping its run", job_id)
                active.cancelled = True
                active.scope.cancel()

    async def _heartbeats(self) -> None:
        while True:
            await anyio.sleep(self.heartbeat_interval_s)
            jobs = [a.job for a in self._active.values()]
            if not jobs:
                continue
            ids = [j.job_id for j in jobs]
            try:
                held = await anyio.to_thread.run_sync(self.queue.heartbeat, jobs)
            except ImagegenError as exc:
                self.trouble.note("lease heartbeat failed", exc)
                continue
            for job_id in set(ids) - held:
                active = self._active.get(job_id)
                if active is not None and active.phase != "finishing":
                    log.warning("lost the lease on %s (heartbeats stalled); abandoning it", job_id)
                    active.scope.cancel()

    # ------------------------------------------------------------------ one job

    async def _run_job(self, active: _Active) -> None:
        job = active.job
        try:
            with active.scope:
                await self._emit("started", job)
                await self._execute(active)
            if active.scope.cancelled_caught and active.cancelled:
                await self._cancelled(active)
            elif active.scope.cancelled_caught:
                self.stats.lost += 1
        except ImagegenError as exc:  # the queue itself failed (disk, database): the lease will expire
            log.error(
                "%s: could not record the outcome (%s); it will be retried after its lease expires", job.job_id, exc
            )
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                try:
                    started = active.phase != "claimed"
                    if await anyio.to_thread.run_sync(lambda: self.queue.release(job, started=started)):
                        self.stats.released += 1
                except ImagegenError as exc:
                    log.warning("could not release %s on shutdown (%s); its lease will expire", job.job_id, exc)
                except Exception:  # never mask the cancellation
                    log.exception("could not release %s on shutdown; its lease will expire", job.job_id)
            raise
        finally:
            if self._active.get(job.job_id) is active:
                del self._active[job.job_id]
            self.wake.notify()

    async def _execute(self, active: _Active) -> None:
        job = active.job
        spec = job.spec
        stage = jobfiles.staging_dir(self.output_dir, job.job_id)
        try:
            request = _request_of(job)
            provider = request.provider or self.settings.provider
            result = await anyio.to_thread.run_sync(jobfiles.recover, self.output_dir, stage, provider)
            kept = _kept(job)
            if result is None and kept is not None:  # paid earlier, not saved: stage those bytes
                restore = jobfiles.restore
                result = await anyio.to_thread.run_sync(restore, self.output_dir, stage, kept, self.services.registry)
                log.info("%s: saving the images kept in %s (no new provider call)", job.job_id, kept)
            if result is None:
                await anyio.to_thread.run_sync(jobfiles.clean_partial, stage)
                await anyio.to_thread.run_sync(jobfiles.prepare, stage)
                active.phase = "generating"
                generated = await generate(self.services, request, lint_options=LintOptions(**spec.get("lint", {})))
                result = dump(generated)
                await anyio.to_thread.run_sync(jobfiles.write_sidecar, stage, result)
            else:
                log.info("%s: adopting the image a previous attempt already made", job.job_id)
            active.phase = "placing"
            overwrite = bool(spec["request"].get("overwrite", False))
            placed = await anyio.to_thread.run_sync(
                lambda: jobfiles.place(self.output_dir, job.job_id, job.target, result, overwrite=overwrite)
            )
            if (objects := self.services.objects) is not None:  # team shape: any replica serves them
                placed = await anyio.to_thread.run_sync(jobfiles.publish, objects, self.output_dir, placed)
        except ImagegenError as exc:
            await self._failed(active, exc)
            return
        except Exception as exc:
            log.exception("%s: unexpected error", job.job_id)
            err = ImagegenError(
                f"unexpected error while running the job ({exc.__class__.__name__})",
                "see the server or worker log; enqueue again with a new request_id",
                code="internal_error",
            )
            await self._failed(active, err)
            return
        active.phase = "finishing"
        cost = None if placed.get("cost_recorded") else placed.get("cost_usd")
        done = await anyio.to_thread.run_sync(
            self.queue.succeed, job, placed, cost if isinstance(cost, int | float) else None
        )
        if done is None:
            log.warning("%s finished after its lease was lost; another worker owns it now", job.job_id)
            self.stats.lost += 1
            return
        self.stats.succeeded += 1
        self.stats.cost_usd += cost if isinstance(cost, int | float) else 0.0
        self._free_slot(active)
        kept = _kept(job)
        if kept is not None:
            await anyio.to_thread.run_sync(recovery.discard, kept)
        await self._finished(done, stage)

    async def _failed(self, active: _Active, exc: ImagegenError) -> None:
        job = active.job
        active.phase = "finishing"
        error = {**exc.to_dict(), "error_class": type(exc).__name__}
        error["message"] = redact(error["message"], self.settings.secrets())
        generation_id = getattr(exc, "generation_id", None)
        if generation_id:
            error["generation_id"] = generation_id
        billed = getattr(exc, "cost_usd", None)  # e.g. a refusal that was still billed
        retry_at = None
        # Paid for, only saving failed: keep the bytes' folder with the job and retry the storage.
        kept = getattr(exc, "recovery", None) or (str(_kept(job)) if _kept(job) else None)
        storage_only = exc.code in STORAGE_CODES and (kept is not None or active.phase == "placing")
        if kept is not None:
            error["recovery"] = kept
        if storage_only:
            retry_at = self.queue.clock() + self.backoff(job.counted_attempts, None)
        elif exc.retryable:
            if job.counted_attempts < job.max_attempts:
                retry_at = self.queue.clock() + self.backoff(job.counted_attempts, getattr(exc, "retry_after", None))
            else:
                error["message"] += f" (gave up after {job.counted_attempts} attempts)"
        # The job is queued already: its fix says what the queue does next, not "use enqueue_images".
        error["fix"] = redact(
            fix_for(
                exc,
                "queue",
                attempts=job.counted_attempts,
                max_attempts=job.max_attempts,
                will_retry=retry_at is not None,
            ),
            self.settings.secrets(),
        )
        if storage_only:
            error["fix"] = "nothing to do once space returns: the job saves the images it already paid for"
        updated = await anyio.to_thread.run_sync(
            lambda: self.queue.fail(
                job,
                error,
                retry_at=retry_at,
                cost_usd=billed if isinstance(billed, float) else None,
                storage_only=storage_only,
            )
        )
        self._free_slot(active)
        if updated is None:
            self.stats.lost += 1
        elif updated.status == "queued":
            self.stats.retried += 1
            self.stats.cost_usd += billed if isinstance(billed, float) else 0.0
            log.info("%s: attempt %d failed (%s); retrying at %.1f", job.job_id, job.attempts, exc.code, retry_at or 0)
            await self._emit("retry", updated)
        else:
            self.stats.failed += 1
            self.stats.cost_usd += billed if isinstance(billed, float) else 0.0
            await self._finished(updated, jobfiles.staging_dir(self.output_dir, job.job_id))

    async def _cancelled(self, active: _Active) -> None:
        active.phase = "finishing"
        done = await anyio.to_thread.run_sync(self.queue.finish_cancelled, active.job)
        self._free_slot(active)
        if done is None:
            self.stats.lost += 1
            return
        self.stats.cancelled += 1
        await self._finished(done, jobfiles.staging_dir(self.output_dir, active.job.job_id))

    def _free_slot(self, active: _Active) -> None:
        """The outcome is committed: let the next job start while this one writes its receipt."""
        if self._active.get(active.job.job_id) is active:
            del self._active[active.job.job_id]
        self.wake.notify()

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before the next attempt: ``Retry-After`` when given, else 1x, 2x, 4x … jittered."""
        if retry_after is not None:
            return min(max(0.0, retry_after), MAX_RETRY_AFTER_S)
        base = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return float(base * random.uniform(0.5, 1.5))

    async def _finished(self, job: Job, stage: Path) -> None:
        try:
            await anyio.to_thread.run_sync(self._write_receipt, job)
        except ImagegenError as exc:
            log.warning("%s: receipt not written yet (%s); housekeeping will retry", job.job_id, exc)
        await anyio.to_thread.run_sync(jobfiles.discard, stage)
        await self._emit(job.status, job)

    async def _emit(self, kind: str, job: Job) -> None:
        if self.on_event is None:
            return
        try:
            await self.on_event(kind, job)
        except Exception:
            log.exception("queue event handler failed for %s", job.job_id)

    # ------------------------------------------------------------------ housekeeping

    async def _housekeeping(self, *, throttle: bool = False) -> None:
        """Write receipts a crash interrupted, and remove staging folders of finished jobs."""
        now = time.monotonic()
        if throttle and now - self._last_housekeeping < self.housekeeping_interval_s:
            return
        self._last_housekeeping = now
        try:
            await anyio.to_thread.run_sync(self._housekeep)
        except ImagegenError as exc:
            self.trouble.note("queue housekeeping failed", exc)

    def _write_receipt(self, job: Job) -> None:
        """The receipt on disk, then (team shape) in the bucket under the same relative path.

        A crash between the two leaves the receipt on this replica's disk only (the job's row, which
        every replica reads, is complete either way).
        """
        path = self.queue.write_receipt(job)
        objects = self.services.objects
        if objects is not None:
            publish(objects, "queue", path.parent.parent, path, path.read_bytes(), "application/json")

    def _housekeep(self) -> None:
        """Receipts a crash interrupted; staging folders of finished jobs; temp files killed writers left
        (receipts in the queue directory, manifests in the folders requests were enqueued into)."""
        while pending := self.queue.pending_receipts():
            for job in pending:
                self._write_receipt(job)
        jobfiles.sweep(self.output_dir, self.queue.finished_map, min_age_s=max(3600.0, self.queue.orphan_timeout_s))
        self.queue.sweep_temp_files()
        jobfiles.sweep_manifest_temps(self.output_dir, self.queue.output_dirs(), min_age_s=MANIFEST_TMP_AGE_S)


def _kept(job: Job) -> Path | None:
    """The recovery folder holding images an earlier attempt of ``job`` paid for but could not save."""
    folder = (job.last_error or {}).get("recovery")
    if isinstance(folder, str) and Path(folder).is_dir():
        return Path(folder)
    return None
