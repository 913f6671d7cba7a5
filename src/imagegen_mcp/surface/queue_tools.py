"""The queue's MCP surface: ``enqueue_images``, ``queue_status``, ``imagegen://jobs/{job_id}``.

:func:`register_queue_tools` adds them to a server and returns the :class:`QueueRuntime` that the
server's lifespan enters (``async with runtime.running(services)``) to run the queue worker.

One worker per server object: the SSE transport runs the lifespan once per connection, so each
lifespan waits on one lock and only the holder runs the worker; when its connection closes the
next waiting lifespan takes over. When a job changes state, subscribers get
``notifications/resources/updated`` for ``imagegen://jobs/{job_id}``: 2026 clients through
``subscriptions/listen`` (the SDK's subscription bus), legacy clients through
``resources/subscribe`` (served here; the SDK does not implement it for ``MCPServer``).
Notifications come from the worker in this process; jobs finished by another process are seen by
``queue_status`` but not pushed.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp.types import (
    Annotations,
    CallToolResult,
    ContentBlock,
    EmptyResult,
    ImageContent,
    ResourceLink,
    SubscribeRequestParams,
    TextContent,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import Field

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ImagegenError, redact
from imagegen_mcp.imaging import previews
from imagegen_mcp.models import ReturnImage
from imagegen_mcp.pipeline import Services, open_services
from imagegen_mcp.queue import ops as queue_ops
from imagegen_mcp.queue.jobs import Job
from imagegen_mcp.queue.models import (
    MAX_COUNT,
    MAX_REQUEST_ID,
    CancelledJob,
    CancelResult,
    EnqueueResult,
    QueueStatusResult,
)
from imagegen_mcp.queue.store import JobStore, is_postgres, make_store, store_exists
from imagegen_mcp.queue.worker import Notifier, QueueTrouble, Worker, queue_settings
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage.reading import read_regular
from imagegen_mcp.surface import params, styles

log = logging.getLogger("imagegen_mcp.queue")

Ctx = Context[Services, Any]
MAX_WAIT_S = 300.0
POLL_S = 0.5
MAX_PREVIEW_REQUESTS = 4
WORKER_RESTART_S = 5.0

ENQUEUE_DESCRIPTION = """\
Queue images in the background; returns request and job ids at once. Use for several images or slow
models, then queue_status(request_id, wait_s). The same request_id never bills twice. Costs money
unless provider=placeholder. Other arguments as in generate_image."""

STATUS_DESCRIPTION = """\
Jobs by job_ids, request_id or most recent: status, files, cost, errors with fixes, a contact sheet.
wait_s long-polls until they finish (keep it under ~50 s; call again to wait longer)."""

CANCEL_DESCRIPTION = "Cancel job_ids or a request_id's jobs: queued end now, running stop upstream."
CANCEL_WAIT_S = 5.0  # how long cancel_jobs waits for running jobs to stop before answering


class QueueRuntime:
    """Process-wide queue state for one server: the store, the wake-up signal, subscribers."""

    def __init__(self, settings: Settings, bus: SubscriptionBus | None = None, *, run_worker: bool = True) -> None:
        self.settings = settings
        self.bus = bus
        self.run_worker = run_worker
        self.wake = Notifier()
        self.worker: Worker | None = None
        self.subscribers: dict[str, list[Any]] = {}
        self._queue: JobStore | None = None
        self._open_lock = anyio.Lock()
        self._leader = anyio.Lock()
        self._lifespans = 0

    async def queue(self) -> JobStore:
        """The store, opened (and created, on first use) by the first queue tool that needs it."""
        async with self._open_lock:
            if self._queue is None:
                self._queue = await anyio.to_thread.run_sync(make_store(self.settings).open)
            return self._queue

    @asynccontextmanager
    async def running(self) -> AsyncIterator[QueueRuntime]:
        """Run the worker (when this lifespan wins the lock) for as long as the context is open."""
        async with anyio.create_task_group() as tg:
            if self.run_worker:
                tg.start_soon(self._worker_slot)
            if is_postgres(self.settings.queue_url):
                tg.start_soon(self._listen)
            self._lifespans += 1
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()
                self._lifespans -= 1
        if self._lifespans == 0:
            await self._close()

    async def _close(self) -> None:
        """The last lifespan ended: close the store (a later one opens it again)."""
        async with self._open_lock:
            queue, self._queue = self._queue, None
        if queue is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(queue.close)

    async def _listen(self) -> None:
        """Hear every replica's job changes (PostgreSQL NOTIFY): wake the worker and long-polls, tell
        subscribers, and stop a job this process runs when it is cancelled elsewhere."""
        await anyio.sleep(WORKER_START_DELAY_S)
        queue = await self._wait_for_queue()
        stop = threading.Event()

        def heard(kind: str, job_ids: list[str]) -> None:
            anyio.from_thread.run(self._heard, kind, job_ids)

        try:
            await anyio.to_thread.run_sync(queue.listen, heard, stop, abandon_on_cancel=True)
        finally:
            stop.set()

    async def _heard(self, kind: str, job_ids: list[str]) -> None:
        if kind == "cancel":
            if self.worker is not None:
                self.worker.cancel(job_ids)
            return
        if kind != "started":  # a start changes no one's wait, and must not set every worker polling
            self.wake.notify()
        for job_id in job_ids:
            await self.publish(job_uri(job_id))

    async def _worker_slot(self) -> None:
        # Let the host's first requests (initialize, tools/list) be answered before the worker opens
        # the database and sweeps staging: on 2 cores that start-up work competes with them.
        await anyio.sleep(WORKER_START_DELAY_S)
        async with self._leader:
            queue = await self._wait_for_queue()
            while True:  # a worker that fails unexpectedly is restarted; its leases expire meanwhile
                try:
                    async with open_services(queue_settings(self.settings)) as services:
                        self.worker = Worker(
                            services, queue, concurrency=self.settings.max_workers, wake=self.wake,
                            on_event=self.on_event,
                        )  # fmt: skip
                        await self.worker.run()
                except Exception:
                    log.exception("the queue worker failed; restarting it in %.0f s", WORKER_RESTART_S)
                finally:
                    self.worker = None
                await anyio.sleep(WORKER_RESTART_S)

    async def _wait_for_queue(self) -> JobStore:
        """The store, once there is one. The worker never creates the database: a server that is only
        asked for generate_image leaves no queue behind. It starts when enqueue_images creates the
        queue (a wake-up), or when another process did (the file appears); a queue that cannot be
        opened (damaged, read-only) is tried again with a growing pause, and said once."""
        trouble = QueueTrouble(cap_s=QUEUE_RETRY_CAP_S)
        while True:
            seen = self.wake.generation
            delay = QUEUE_LOOK_S
            if self._queue is not None or await anyio.to_thread.run_sync(store_exists, self.settings):
                try:
                    return await self.queue()
                except ImagegenError as exc:
                    delay = trouble.failed(exc)
            await self.wake.wait(seen, delay)

    async def on_event(self, kind: str, job: Job) -> None:
        """A job changed state: wake long-polls and tell subscribers."""
        self.wake.notify()
        if self._queue is not None and self._queue.broadcasts:
            return  # every replica, this one included, hears it through the store (_listen)
        await self.publish(job_uri(job.job_id))

    async def publish(self, uri: str) -> None:
        """``notifications/resources/updated`` for ``uri`` to every subscriber of this process."""
        if self.bus is not None:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for session in list(self.subscribers.get(uri, ())):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # the connection has gone
                self.subscribers[uri].remove(session)


WORKER_START_DELAY_S = 0.5
QUEUE_LOOK_S = 2.0  # how often a server without a queue yet looks for one another process created
QUEUE_RETRY_CAP_S = 30.0  # the longest pause between tries to open a queue that failed to open


def job_uri(job_id: str) -> str:
    return f"imagegen://jobs/{job_id}"


def register_queue_tools(mcp: MCPServer[Any], settings: Settings, bus: SubscriptionBus | None = None) -> QueueRuntime:
    """Add ``enqueue_images``, ``queue_status`` and the job resource; return the runtime to run."""
    runtime = QueueRuntime(settings, bus)

    def refuse(exc: ImagegenError) -> ToolError:
        return ToolError(redact(str(exc), settings.secrets()))

    async def open_queue() -> JobStore:
        try:
            return await runtime.queue()
        except ImagegenError as exc:
            raise refuse(exc) from None

    @mcp.tool(
        title="Enqueue images",
        description=ENQUEUE_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Enqueue images",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    async def enqueue_images(
        ctx: Ctx,
        prompt: params.OptionalPrompt = None,
        style: params.Style = None,
        operation: Literal["generate", "edit", "upscale"] | None = None,  # None: generate (v1 calls)
        prompts: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=32000)]] | None,
            Field(max_length=MAX_COUNT, description="One job each"),
        ] = None,
        options: Annotated[dict[str, Any] | None, Field(description="image, mode…")] = None,
        count: Annotated[int, Field(ge=1, le=MAX_COUNT, description="Images: one job each, each billed")] = 1,
        request_id: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=MAX_REQUEST_ID,
                description="Idempotency key: a retry with it never pays twice",
            ),
        ] = None,
        out_dir: Annotated[str, Field(max_length=1024, description="Directory in the output dir")] = "",
        prefix: Annotated[
            str | None,
            Field(min_length=1, max_length=80, description="Names <prefix>-01.png …"),
        ] = None,
        start_index: Annotated[int, Field(ge=1, le=9999, description="First file number")] = 1,
        variant_notes: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=500)]] | None,
            Field(max_length=16, description="Note i is added to image i's prompt"),
        ] = None,
        model: params.Model = None,
        image_size: params.Size = None,
        aspect_ratio: params.Aspect = None,
        surface: params.SurfaceArg = "auto",
        provider: params.ProviderArg = None,
        provider_preferences: params.Preferences = None,
        overwrite: Annotated[bool, Field(description="Replace existing files")] = False,
        clarify_hints: params.ClarifyHints = True,
        strict_clarify: params.StrictClarify = False,
        allow_no_baseline_on_edit_intent: params.AllowNoBaseline = False,
        baseline_image: params.BaselineImage = None,
        baseline_source_kind: params.BaselineKind = "explicit_path_or_url",
        confirm_external_upload: params.ConfirmUpload = False,
        variation_strength: params.Variation = None,
        must_keep: params.MustKeep | None = None,
        lock_palette: params.LockPalette = None,
        lock_composition: params.LockComposition = None,
        max_cost_usd: params.MaxCost = None,
    ) -> Annotated[CallToolResult, EnqueueResult]:
        services: Services = ctx.request_context.lifespan_context
        if (operation or "generate") == "generate":  # the call's argument wins over a configured/remembered default
            style = style or services.settings.default_style  # type: ignore[assignment]
            aspect_ratio = aspect_ratio or services.settings.default_aspect_ratio  # type: ignore[assignment]
            image_size = image_size or services.settings.default_image_size  # type: ignore[assignment]
        queue = await open_queue()
        try:
            req = queue_ops.parse_request(
                **queue_ops.operation_fields(operation or "generate", options), prompts=prompts or [],
                prompt=styles.apply(prompt or "", style), count=count, request_id=request_id, out_dir=out_dir,
                prefix=prefix, model=model,
                start_index=start_index, variant_notes=variant_notes or [],
                image_size=image_size, aspect_ratio=aspect_ratio, surface=surface, provider=provider,
                provider_preferences=provider_preferences, overwrite=overwrite, clarify_hints=clarify_hints,
                strict_clarify=strict_clarify,
                allow_no_baseline_on_edit_intent=allow_no_baseline_on_edit_intent, baseline_image=baseline_image,
                baseline_source_kind=baseline_source_kind, confirm_external_upload=confirm_external_upload,
                variation_strength=variation_strength, must_keep=must_keep or [], lock_palette=lock_palette,
                lock_composition=lock_composition, max_cost_usd=max_cost_usd,
            )  # fmt: skip
            result = await queue_ops.enqueue(services, queue, req)
        except ImagegenError as exc:
            raise refuse(exc) from None
        runtime.wake.notify()
        links: list[ContentBlock] = [TextContent(type="text", text=queue_ops.enqueue_summary(result))]
        links += [
            ResourceLink(type="resource_link", name=j.job_id, title=f"job {j.index:02d}", uri=job_uri(j.job_id),
                         mime_type="application/json", description=f"status of the job that writes {j.out}.*")
            for j in result.jobs
        ]  # fmt: skip
        return CallToolResult(content=links, structured_content=result.model_dump(mode="json"))

    @mcp.tool(
        title="Queue status",
        description=STATUS_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Queue status",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def queue_status(
        ctx: Ctx,
        job_ids: Annotated[list[str] | None, Field(max_length=100, description="Job ids from enqueue_images")] = None,
        request_id: Annotated[
            str | None, Field(min_length=1, max_length=MAX_REQUEST_ID, description="All jobs of one request")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Recent jobs to show when no ids")] = 20,
        wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S, description="Seconds to wait for the jobs to finish")] = 0,
        return_image: Annotated[
            ReturnImage, Field(description="preview: a contact sheet; none: links only")
        ] = "preview",
    ) -> Annotated[CallToolResult, QueueStatusResult]:
        queue = await open_queue()
        started = time.monotonic()

        def look(ids: list[str] | None = job_ids, request: str | None = request_id) -> QueueStatusResult:
            return queue_ops.status(settings, queue, job_ids=ids, request_id=request, limit=limit)

        try:
            result = await anyio.to_thread.run_sync(look)
            if wait_s > 0 and not result.finished:
                ids = [v.job_id for v in result.jobs]
                await wait_for(runtime, queue, ids, wait_s, ctx)
                result = await anyio.to_thread.run_sync(lambda: look(ids, None))
                result.waited_s = round(time.monotonic() - started, 3)
            content = await anyio.to_thread.run_sync(render_status, result, return_image == "preview")
        except ImagegenError as exc:
            raise refuse(exc) from None
        return CallToolResult(content=content, structured_content=result.model_dump(mode="json"))

    @mcp.tool(
        description=CANCEL_DESCRIPTION,
        # Only what differs from the spec's defaults (not read-only, destructive, open world): tools/list budget.
        annotations=ToolAnnotations(idempotent_hint=True),
    )
    async def cancel_jobs(
        job_ids: Annotated[list[str] | None, Field(max_length=100, description="Job ids from enqueue_images")] = None,
        request_id: Annotated[str | None, Field(min_length=1, max_length=MAX_REQUEST_ID)] = None,
    ) -> Annotated[CallToolResult, CancelResult]:
        queue = await open_queue()
        try:
            ask = functools.partial(queue_ops.cancel, queue, job_ids=job_ids, request_id=request_id)
            result = await anyio.to_thread.run_sync(ask)
            running = [j.job_id for j in result.jobs if j.status == "running"]
            if running:  # give the workers (here or on another replica) a moment to stop them
                if runtime.worker is not None:
                    runtime.worker.cancel(running)
                await wait_for(runtime, queue, running, CANCEL_WAIT_S, None)
                now = {j.job_id: j.status for j in await anyio.to_thread.run_sync(queue.get, running)}
                result = CancelResult(
                    jobs=[CancelledJob(job_id=j.job_id, status=now.get(j.job_id, j.status)) for j in result.jobs]
                )
        except ImagegenError as exc:
            raise refuse(exc) from None
        text = TextContent(type="text", text=queue_ops.cancel_summary(result))
        return CallToolResult(content=[text], structured_content=result.model_dump(mode="json"))

    @mcp.resource(
        "imagegen://jobs/{job_id}",
        name="job",
        title="Queued job",
        description="One queued job: status, attempts, timings, cost, files, error (subscribe for updates)",
        mime_type="application/json",
    )
    async def job_resource(job_id: str) -> dict[str, Any]:
        try:
            queue = await runtime.queue()
            result = await anyio.to_thread.run_sync(lambda: queue_ops.status(settings, queue, job_ids=[job_id]).jobs[0])
        except ImagegenError as exc:
            if exc.code == "unknown_job":  # -32602 (2026) / -32002 (legacy), not an internal error
                raise ResourceNotFoundError(f"no job {job_id} in this queue — {exc.fix}") from None
            raise ResourceError(redact(str(exc), settings.secrets())) from None
        return result.model_dump(mode="json")

    register_legacy_subscriptions(mcp, runtime)
    return runtime


async def wait_for(runtime: QueueRuntime, queue: JobStore, ids: list[str], wait_s: float, ctx: Ctx | None) -> None:
    """Return when every job in ``ids`` has finished or ``wait_s`` passed; report progress meanwhile."""
    started = time.monotonic()
    total = len(ids)
    last_done = -1
    last_report = 0.0
    interval = runtime.settings.progress_interval_s
    while True:
        seen = runtime.wake.generation
        unfinished = await anyio.to_thread.run_sync(queue.unfinished_ids, ids)
        done = total - len(unfinished)
        now = time.monotonic()
        elapsed = now - started
        if done != last_done or now - last_report >= interval:
            # Absolute and increasing: whole jobs finished, plus the share of the wait used so far.
            if ctx is not None:
                await ctx.report_progress(done + elapsed / (wait_s + 1), total, f"{done}/{total} jobs finished")
            last_done, last_report = done, now
        if not unfinished or elapsed >= wait_s:
            return
        await runtime.wake.wait(seen, min(POLL_S, interval, wait_s - elapsed))


def render_status(result: QueueStatusResult, with_preview: bool) -> list[ContentBlock]:
    """Summary text, a link per saved file, and one bounded contact sheet per request (in a thread)."""
    blocks: list[ContentBlock] = [TextContent(type="text", text=queue_ops.status_summary(result))]
    groups: dict[str, list[Path]] = {}
    for view in result.jobs:
        for img in view.images:
            blocks.append(
                ResourceLink(
                    type="resource_link",
                    name=Path(img.path).name,
                    title=img.path,
                    uri=img.uri,
                    mime_type=img.mime_type,
                    size=img.bytes,
                    description=f"job {view.job_id}: {img.width}x{img.height} full-size file at {img.path}",
                )
            )
            groups.setdefault(view.request_id, []).append(Path(img.path))
    if not with_preview or not groups:
        return blocks
    shown = list(groups.items())[:MAX_PREVIEW_REQUESTS]
    budget = previews.PREVIEW_BUDGET_BYTES // len(shown)
    for request_id, paths in shown:
        datas = []
        for p in paths[:MAX_COUNT]:
            try:
                datas.append(read_regular(p, max_bytes=store.MAX_IMAGE_BYTES, what="image"))
            except ImagegenError:
                continue  # moved, deleted or replaced since: the link still says where it was
        if not datas:
            continue
        data = (
            previews.preview(datas[0], budget=budget)
            if len(datas) == 1
            else previews.contact_sheet(datas, budget=budget)
        )
        blocks.append(
            ImageContent(
                type="image",
                data=base64.b64encode(data).decode(),
                mime_type="image/jpeg",
                annotations=Annotations(audience=["user", "assistant"]),
                _meta={"imagegen/request_id": request_id, "imagegen/images": len(datas)},
            )
        )
    return blocks


def register_legacy_subscriptions(mcp: MCPServer[Any], runtime: QueueRuntime) -> None:
    """Serve ``resources/subscribe`` for legacy clients (mcp-sdk-v2.md §9; a private SDK seam)."""

    async def on_subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        sessions = runtime.subscribers.setdefault(str(params.uri), [])
        if ctx.session not in sessions:
            sessions.append(ctx.session)
        return EmptyResult()

    async def on_unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        sessions = runtime.subscribers.get(str(params.uri), [])
        if ctx.session in sessions:
            sessions.remove(ctx.session)
        return EmptyResult()

    lowlevel = getattr(mcp, "_lowlevel_server", None)
    if lowlevel is not None:
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)
