"""``imagegen-mcp enqueue · worker · status · cancel``: the queue from a terminal, as the tools do it.

``enqueue`` stores jobs (a running server or ``imagegen-mcp worker`` makes them); ``worker`` drains
the queue (``--once`` for cron: stop when nothing is left); ``status`` shows jobs and totals, and
``--json`` prints the same shapes as the tools' structured content. Heavy imports stay inside the
verbs so ``imagegen-mcp --help`` and ``serve`` start fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from imagegen_mcp.providers.registry import NAMES

if TYPE_CHECKING:
    from imagegen_mcp.queue.jobs import Job
    from imagegen_mcp.queue.store import JobStore
    from imagegen_mcp.queue.worker import WorkerStats


def add_parsers(sub: Any) -> None:
    """Add the queue's verbs to ``imagegen-mcp``'s subparsers."""
    enq = sub.add_parser("enqueue", help="queue images to be made in the background (as enqueue_images)")
    enq.add_argument("prompt", nargs="?", help="what to draw (or use --from-manifest)")
    enq.add_argument("--count", "-c", type=int, default=None, help="how many images, 1-16 (one job each)")
    enq.add_argument("--request-id", help="idempotency key: the same id and arguments never enqueue twice")
    enq.add_argument("--out-dir", default=None, help="directory relative to the output directory")
    enq.add_argument("--prefix", help="file names <prefix>-01.png ... (default: date + prompt words)")
    enq.add_argument("--start-index", type=int, default=None, help="first file number (continue an earlier batch)")
    enq.add_argument(
        "--variant-note", action="append", metavar="TEXT", help="a per-variant delta (repeatable, in order)"
    )
    enq.add_argument("--model")
    enq.add_argument("--image-size", choices=["low", "medium", "high"])
    enq.add_argument("--aspect-ratio", help="e.g. 1:1, 16:9, 9:16")
    enq.add_argument("--surface", choices=["auto", "images", "chat"], default=None)
    enq.add_argument("--provider", choices=NAMES)
    enq.add_argument("--overwrite", action="store_true", default=None, help="replace files with the same names")
    enq.add_argument("--strict", action="store_true", default=None, help="refuse ambiguous prompts")
    enq.add_argument("--allow-no-baseline", action="store_true", default=None)
    enq.add_argument(
        "--baseline-image", metavar="IMAGE", help="image to edit or vary (path, https URL, imagegen:// uri)"
    )
    enq.add_argument(
        "--confirm-external-upload", action="store_true", default=None, help="allow a local baseline upload"
    )
    enq.add_argument("--variation-strength", choices=["low", "medium", "high"])
    enq.add_argument("--must-keep", action="append", metavar="TEXT", help="what a baseline edit must keep (repeatable)")
    enq.add_argument("--lock-palette", action=argparse.BooleanOptionalAction, default=None)
    enq.add_argument("--lock-composition", action=argparse.BooleanOptionalAction, default=None)
    enq.add_argument("--from-manifest", metavar="FILE", help="repeat a request from its <prefix>-manifest.json")
    enq.add_argument("--json", action="store_true", help="print the result as JSON")

    work = sub.add_parser("worker", help="drain the queue (a progress bar on a terminal, plain lines otherwise)")
    work.add_argument("--max-jobs", type=int, default=None, help="stop after starting N jobs")
    work.add_argument("--concurrency", type=int, default=None, help="jobs at a time (default IMAGEGEN_MAX_WORKERS)")
    work.add_argument(
        "--once",
        action="store_true",
        help="stop when the queue is empty, or with an error if it cannot be used (for cron)",
    )
    work.add_argument("--poll", type=float, default=1.0, help="seconds between checks for new jobs")

    st = sub.add_parser("status", help="show queued jobs (as queue_status)")
    st.add_argument("job_ids", nargs="*", help="job ids (default: the most recent jobs)")
    st.add_argument("--request-id", help="all jobs of one request")
    st.add_argument("--limit", type=int, default=20, help="how many recent jobs (default 20)")
    st.add_argument("--wait", type=float, default=0.0, help="wait up to S seconds for the jobs to finish")
    st.add_argument("--json", action="store_true", help="print the result as JSON")

    cancel = sub.add_parser("cancel", help="cancel queued or running jobs (as cancel_jobs)")
    cancel.add_argument("job_ids", nargs="*", help="job ids")
    cancel.add_argument("--request-id", help="every job of one request")
    cancel.add_argument("--json", action="store_true", help="print the result as JSON")


def _open() -> tuple[Any, JobStore]:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.queue.store import make_store

    settings = Settings.from_env()
    return settings, make_store(settings).open()


def _fail(exc: Exception, settings: Any = None) -> int:
    from imagegen_mcp.errors import ImagegenError, redact
    from imagegen_mcp.fixes import cli_text

    secrets = settings.secrets() if settings is not None else ()
    text = cli_text(exc) if isinstance(exc, ImagegenError) else str(exc)
    print(f"imagegen-mcp: {redact(text, secrets)}", file=sys.stderr)
    return 1


def cmd_enqueue(args: argparse.Namespace) -> int:
    from pathlib import Path

    import anyio

    from imagegen_mcp.errors import ImagegenError
    from imagegen_mcp.queue import ops as queue_ops

    options = {
        "count": args.count, "request_id": args.request_id, "out_dir": args.out_dir, "prefix": args.prefix,
        "model": args.model, "image_size": args.image_size, "aspect_ratio": args.aspect_ratio,
        "surface": args.surface, "provider": args.provider, "overwrite": args.overwrite,
        "strict_clarify": args.strict, "allow_no_baseline_on_edit_intent": args.allow_no_baseline,
        "baseline_image": args.baseline_image, "confirm_external_upload": args.confirm_external_upload,
        "variation_strength": args.variation_strength, "must_keep": args.must_keep,
        "lock_palette": args.lock_palette, "lock_composition": args.lock_composition,
        "start_index": args.start_index, "variant_notes": args.variant_note,
    }  # fmt: skip
    settings = None
    try:
        settings, queue = _open()
        if args.from_manifest:
            req = queue_ops.request_from_manifest(Path(args.from_manifest), prompt=args.prompt, **options)
        elif not args.prompt:
            print("imagegen-mcp enqueue: give a prompt, or --from-manifest FILE", file=sys.stderr)
            return 2
        else:
            req = queue_ops.parse_request(prompt=args.prompt, **{k: v for k, v in options.items() if v is not None})
        result = anyio.run(enqueue_with_services, settings, queue, req)
    except ImagegenError as exc:
        return _fail(exc, settings)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        again = " (already enqueued with this request id and payload)" if result.deduplicated else ""
        print(f"Enqueued {len(result.jobs)} job(s) as request {result.request_id}{again} in {result.out_dir}:")
        for job in result.jobs:
            print(f"  {job.job_id}  #{job.index:02d}  {job.status:9}  {job.out}.*")
        for h in result.hints:
            print(f"  hint [{h.rule}] {h.fix}")
        print(f"A running server makes them, or run: imagegen-mcp worker --once. Follow with: "
              f"imagegen-mcp status --request-id {result.request_id}")  # fmt: skip
    return 0


async def enqueue_with_services(settings: Any, queue: JobStore, req: Any) -> Any:
    from imagegen_mcp.pipeline import open_services
    from imagegen_mcp.queue.ops import enqueue

    async with open_services(settings) as services:
        return await enqueue(services, queue, req)


def cmd_status(args: argparse.Namespace) -> int:
    from imagegen_mcp.errors import ImagegenError
    from imagegen_mcp.queue import ops as queue_ops

    settings = None
    try:
        settings, queue = _open()
        started = time.monotonic()
        result = queue_ops.status(
            settings, queue, job_ids=args.job_ids or None, request_id=args.request_id, limit=args.limit
        )
        ids = [j.job_id for j in result.jobs]
        while args.wait > 0 and not result.finished and time.monotonic() - started < args.wait:
            time.sleep(min(0.5, max(0.0, args.wait - (time.monotonic() - started))))
            if not queue.unfinished_ids(ids):
                break
        if args.wait > 0:
            result = queue_ops.status(settings, queue, job_ids=ids) if ids else result
            result.waited_s = round(time.monotonic() - started, 3)
    except ImagegenError as exc:
        return _fail(exc, settings)
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    print(queue_ops.status_summary(result))
    q = result.queue
    print(
        f"queue: {q.queued} queued, {q.running} running, {q.succeeded} succeeded, {q.failed} failed, "
        f"{q.cancelled} cancelled · ${q.cost_usd:.4f} spent"
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    import anyio

    from imagegen_mcp.errors import ImagegenError
    from imagegen_mcp.pipeline import open_services
    from imagegen_mcp.queue.worker import Worker, queue_settings

    settings = None
    try:
        settings, queue = _open()
    except ImagegenError as exc:
        return _fail(exc, settings)
    progress = Progress(queue, sys.stdout)
    stats: list[WorkerStats] = []
    failures: list[ImagegenError] = []

    async def main() -> None:
        async with open_services(queue_settings(settings)) as services, anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        tg.cancel_scope.cancel()  # running jobs go back to queued
                        return

            tg.start_soon(stop_on_signal)
            worker = Worker(
                services,
                queue,
                concurrency=args.concurrency or settings.max_workers,
                max_jobs=args.max_jobs,
                once=args.once,
                poll_interval_s=args.poll,
                on_event=progress.on_event,
            )
            progress.worker = worker
            try:
                stats.append(await worker.run())
            except ImagegenError as exc:  # --once and the queue cannot be used: say why and stop
                failures.append(exc)
            tg.cancel_scope.cancel()

    anyio.run(main)
    progress.close()
    if failures:
        return _fail(failures[0], settings)
    if stats:
        s = stats[0]
        print(
            f"worker done: {s.succeeded} succeeded, {s.failed} failed, {s.retried} retries scheduled, "
            f"{s.released} released · ${s.cost_usd:.4f}",
            file=sys.stderr,
        )
        return 1 if s.failed else 0
    print("worker stopped: running jobs were put back in the queue", file=sys.stderr)
    return 0


class Progress:
    """A one-line bar on a terminal; plain lines (one per finished job) otherwise."""

    def __init__(self, queue: JobStore, out: TextIO) -> None:
        self.queue = queue
        self.out = out
        self.tty = out.isatty()
        self.worker: Any = None
        self._drawn = False

    async def on_event(self, kind: str, job: Job) -> None:
        if self.tty:
            import anyio.to_thread

            queued, _ = await anyio.to_thread.run_sync(self.queue.pending)
            self._bar(queued)
        elif kind in ("succeeded", "failed"):
            detail = ", ".join(i["path"] for i in (job.result or {}).get("images", []))
            if job.error:
                detail = f"{job.error.get('message')} — {job.error.get('fix')}"
            cost = f" ${job.cost_usd:.4f}" if job.cost_usd is not None else ""
            print(f"{kind:9} {job.job_id} #{job.index:02d} attempt {job.attempts}{cost} {detail}", file=self.out)
            self.out.flush()
        elif kind == "retry":
            err = (job.last_error or {}).get("code", "error")
            print(f"retry     {job.job_id} #{job.index:02d} after {err} (attempt {job.attempts})", file=self.out)
            self.out.flush()

    def _bar(self, queued: int) -> None:
        if self.worker is None:
            return
        s = self.worker.stats
        running = self.worker.running
        done = s.succeeded + s.failed
        total = max(1, done + running + queued)
        width = 30
        filled = int(width * done / total)
        line = (
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} done · {running} running · "
            f"{s.failed} failed · ${s.cost_usd:.4f}"
        )
        self.out.write(line)
        self.out.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.out.write("\n")
            self.out.flush()


def cmd_cancel(args: argparse.Namespace) -> int:
    from imagegen_mcp.errors import ImagegenError
    from imagegen_mcp.queue import ops as queue_ops

    if not args.job_ids and not args.request_id:
        print("imagegen-mcp cancel: give job ids, or --request-id ID", file=sys.stderr)
        return 2
    settings = None
    try:
        settings, queue = _open()
        result = queue_ops.cancel(queue, job_ids=args.job_ids or None, request_id=args.request_id)
    except ImagegenError as exc:
        return _fail(exc, settings)
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    print(queue_ops.cancel_summary(result))
    for job in result.jobs:
        print(f"  {job.job_id}  {job.status}")
    return 0


COMMANDS = {"enqueue": cmd_enqueue, "worker": cmd_worker, "status": cmd_status, "cancel": cmd_cancel}
