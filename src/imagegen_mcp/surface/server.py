"""The MCP surface: tools and resources, kept thin over the pipeline.

Every tool turns project errors into ``ToolError`` (``isError: true``, the message and the fix)
and never lets a traceback or a secret through. Services (HTTP client, providers) are built once
in the lifespan and reached through the tool's ``Context``.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.types import (
    Annotations,
    CallToolResult,
    ContentBlock,
    ImageContent,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import Field, ValidationError

from imagegen_mcp import __version__
from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ImagegenError, redact
from imagegen_mcp.imaging import codec, previews
from imagegen_mcp.models import (
    GenerateRequest,
    GenerateResult,
    PreflightReport,
    dump,
    problems,
)
from imagegen_mcp.pipeline import LintOptions, Services, generate, open_services
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage.objects import fetch
from imagegen_mcp.storage.reading import read_regular
from imagegen_mcp.surface import params, styles
from imagegen_mcp.surface.boundary import ImagegenServer
from imagegen_mcp.surface.edit_tools import register_edit_tools
from imagegen_mcp.surface.preflight import run_preflight
from imagegen_mcp.surface.queue_tools import register_queue_tools
from imagegen_mcp.surface.templates import register_templates

log = logging.getLogger("imagegen_mcp")

_RESOURCE_FIX = "open the file directly; resources serve images up to 64 MiB"

INSTRUCTIONS = """\
Make images with generate_image (one call, waits for the provider, returns a small preview you can
see plus the absolute path of each full-size file). Call preflight first if anything fails: it says
what is missing and how to fix it. Generating costs money (cost_usd is in every result); dry_run=true
checks a request and shows prompt hints without generating. Prompt hints (hints[]) say how to make a
prompt clearer; follow their fixes before retrying a disappointing result. For several images or a slow
model, use enqueue_images (returns at once with job ids) and follow it with queue_status (wait_s)."""

GENERATE_DESCRIPTION = """\
Make images from a prompt; saves files, returns paths, links, a preview. Costs money (cost_usd)
unless dry_run or provider=placeholder. Sent to the provider: prompt, options, input images."""

PREFLIGHT_DESCRIPTION = """\
Check readiness: keys, models, providers, directories, codecs; each failure with a fix."""

Ctx = Context[Services, Any]


def build_server(settings: Settings | None = None, *, on_closed: Callable[[], None] | None = None) -> ImagegenServer:
    """The server, with settings from the environment unless given (tests pass their own).

    ``on_closed`` is called once the lifespan's services are closed (the stdio runner uses it to
    exit promptly after a signal instead of waiting on the SDK's stdin thread).
    """
    settings = settings or Settings.from_env()
    bus = InMemorySubscriptionBus()  # job updates reach 2026 listen streams (legacy: queue_tools)
    shared = SharedServices(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        try:
            async with shared.use() as services, queue.running(), warmed_up(services):
                log.info("imagegen-mcp ready: provider=%s output_dir=%s", settings.provider, settings.output_dir)
                yield services
        finally:
            if on_closed is not None:
                on_closed()

    auth: dict[str, Any] = {}
    if settings.mcp_token:  # HTTP transports only; imported lazily to keep stdio start-up lean
        from imagegen_mcp.surface.auth import server_auth_kwargs

        auth = server_auth_kwargs(settings.mcp_token)
    mcp = ImagegenServer(
        name="imagegen",
        title="Image generation",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        subscriptions=bus,
        **auth,
    )
    mcp.secrets = settings.secrets()
    mcp.resource_links = settings.resource_links
    register(mcp, settings)
    register_templates(mcp)  # prompts/list: portrait, product, landscape, concept, scene, ecommerce
    register_edit_tools(mcp)  # edit_image, upscale_image
    queue = register_queue_tools(mcp, settings, bus)  # enqueue_images, queue_status, imagegen://jobs/{id}
    return mcp


WARM_UP_DELAY_S = 0.5


@asynccontextmanager
async def warmed_up(services: Services, delay_s: float = WARM_UP_DELAY_S) -> AsyncIterator[None]:
    """Prepare, in a worker thread and after start-up, what the first generation would otherwise wait for.

    The first ``generate_image`` of a session used to take ~5x the second: compiling the linter's
    lexicons (~150 ms), Pillow, the configured providers' modules and the HTTP client's TLS context.
    Doing it half a second after start keeps ``tools/list`` as fast as before (nothing here runs before
    it). No network request is made: nothing is fetched from a provider that the user did not ask for.
    """

    async def warm() -> None:
        await anyio.sleep(delay_s)
        try:
            await anyio.to_thread.run_sync(prepare)
            configured = [n for n in services.providers if services.providers.configured(n)]
            await anyio.to_thread.run_sync(lambda: [services.providers.provider_class(n) for n in configured])
            services.http.client  # noqa: B018  (builds the client and its TLS context now, not on the first call)
            import tenacity  # noqa: F401
        except Exception:  # an optimisation only: whatever failed here fails again, reported, on first use
            log.debug("warm-up skipped", exc_info=True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(warm)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


def prepare() -> None:
    from PIL import Image, PngImagePlugin  # noqa: F401  (imported for its side effect: ready to decode)

    from imagegen_mcp.lint import lint

    lint("warm up the lexicons")


class SharedServices:
    """One :class:`Services` per process, however often the lifespan runs.

    stdio and Streamable HTTP run the lifespan once; SSE runs it once per connection. Every
    connection must share one provider client (and the queue runtime guards its single worker the
    same way), so the first entry opens the services and the last exit closes them.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._users = 0
        self._lock = anyio.Lock()
        self._stack: AsyncExitStack | None = None
        self._services: Services | None = None

    @asynccontextmanager
    async def use(self) -> AsyncIterator[Services]:
        async with self._lock:
            if self._services is None:
                stack = AsyncExitStack()
                self._services = await stack.enter_async_context(open_services(self.settings))
                self._stack = stack
            self._users += 1
            services = self._services
        try:
            yield services
        finally:
            with anyio.CancelScope(shield=True):
                async with self._lock:
                    self._users -= 1
                    if self._users == 0 and self._stack is not None:
                        stack, self._stack, self._services = self._stack, None, None
                        await stack.aclose()


def tool_error(exc: ImagegenError, settings: Settings) -> ToolError:
    return ToolError(redact(str(exc), settings.secrets()))


def register(mcp: ImagegenServer, settings: Settings) -> None:
    @mcp.tool(
        title="Generate image",
        description=GENERATE_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Generate image",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    async def generate_image(
        ctx: Ctx,
        prompt: params.Prompt,
        style: params.Style = None,
        model: params.Model = None,
        image_size: params.Size = None,
        aspect_ratio: params.Aspect = None,
        n: params.N = 1,
        out: params.Out = None,
        overwrite: params.Overwrite = False,
        return_image: params.ReturnImageArg = "preview",
        dry_run: params.DryRun = False,
        surface: params.SurfaceArg = "auto",
        provider: params.ProviderArg = None,
        provider_preferences: params.Preferences = None,
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
        references: params.References = None,
        consistency: params.ConsistencyArg = None,
        negative_prompt: params.NegativePrompt = None,
        seed: params.Seed = None,
        background: params.BackgroundArg = None,
        output_format: params.OutputFormatArg = None,
        max_cost_usd: params.MaxCost = None,
    ) -> Annotated[CallToolResult, GenerateResult]:
        services: Services = ctx.request_context.lifespan_context
        settings_ = services.settings  # the call's argument wins over a configured or remembered default
        style = style or settings_.default_style  # type: ignore[assignment]
        aspect_ratio = aspect_ratio or settings_.default_aspect_ratio  # type: ignore[assignment]
        image_size = image_size or settings_.default_image_size  # type: ignore[assignment]
        try:
            request = GenerateRequest(
                prompt=styles.apply(prompt, style), model=model, image_size=image_size, aspect_ratio=aspect_ratio, n=n,
                out=out, overwrite=overwrite, surface=surface, provider=provider,
                provider_preferences=provider_preferences,
                baseline_image=baseline_image, baseline_source_kind=baseline_source_kind,
                confirm_external_upload=confirm_external_upload, variation_strength=variation_strength,
                must_keep=must_keep or [], lock_palette=lock_palette, lock_composition=lock_composition,
                references=references or [], consistency=consistency, negative_prompt=negative_prompt, seed=seed,
                background=background, output_format=output_format,
                max_cost_usd=max_cost_usd,
            )  # fmt: skip
        except ValidationError as exc:
            raise ToolError(redact(f"invalid arguments: {problems(exc)}", services.settings.secrets())) from None
        options = LintOptions(clarify_hints, strict_clarify, allow_no_baseline_on_edit_intent)
        try:
            result = await generate(
                services, request, dry_run=dry_run, lint_options=options, progress=ctx.report_progress
            )
            with_preview = return_image == "preview" and bool(result.images)
            content = await anyio.to_thread.run_sync(render, result, True) if with_preview else render(result, False)
        except ImagegenError as exc:
            raise tool_error(exc, services.settings) from None
        return CallToolResult(content=content, structured_content=dump(result))

    @mcp.tool(
        title="Preflight",
        description=PREFLIGHT_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Preflight",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=True,
        ),
    )
    async def preflight(
        ctx: Ctx,
        provider: Annotated[str | None, Field(description="Check this provider")] = None,
        model: Annotated[str | None, Field(description="Check this model")] = None,
    ) -> Annotated[CallToolResult, PreflightReport]:
        services: Services = ctx.request_context.lifespan_context
        try:
            report = await run_preflight(services, provider, model)
        except ImagegenError as exc:
            raise tool_error(exc, services.settings) from None
        spend = report.spend
        budget = (
            f" of ${spend['daily_budget_usd']:g} (${spend['left_usd']:.4f} left)"
            if spend.get("daily_budget_usd") is not None
            else ""
        )
        lines = [report.summary(), f"spend today (UTC): ${spend.get('today_usd') or 0:.4f}{budget}"] + [
            f"{'ok ' if c.ok else 'FAIL'} {c.name}: {c.detail}" + ("" if c.ok or not c.fix else f" — fix: {c.fix}")
            for c in report.checks
        ]
        text = redact("\n".join(lines), services.settings.secrets())
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=dump(report))

    @mcp.resource(
        "imagegen://images/{image_id}",
        name="image",
        title="Generated image",
        description="A full-size image this server saved (its bytes unchanged)",
        mime_type="image/png",
    )
    def image_file(image_id: str, ctx: Ctx) -> bytes:
        # Only a regular image file, read with a bound: a FIFO, a device or a huge sparse file under
        # the output directory must not block a thread or fill memory (see storage/reading.py).
        # In the team shape an image another replica made comes from the shared bucket.
        uri = f"imagegen://images/{image_id}"
        try:
            path = store.path_for_id(settings.output_dir, image_id)
        except ImagegenError:
            path = None
        try:
            if path is not None and os.path.lexists(path):
                data = read_regular(path, max_bytes=store.MAX_IMAGE_BYTES, what="image", fix_size=_RESOURCE_FIX)
            else:
                objects = ctx.request_context.lifespan_context.objects
                shared = path and fetch(objects, "images", settings.output_dir, path, store.MAX_IMAGE_BYTES)
                if not shared:
                    raise ResourceNotFoundError(
                        f"no image {uri} in the output directory — use a uri from a recent result (or queue_status)"
                    )
                data = shared
        except ImagegenError as exc:
            raise ResourceError(redact(str(exc), settings.secrets())) from None
        try:
            codec.sniff(data)
        except ImagegenError:
            raise ResourceError(
                f"{uri} names a file that is not a PNG, JPEG, WebP or GIF image — read images made by this server only"
            ) from None
        return data


def render(result: GenerateResult, with_preview: bool) -> list[ContentBlock]:
    """Summary text, then a resource link per file, then one bounded preview (runs in a thread)."""
    blocks: list[ContentBlock] = [TextContent(type="text", text=summary(result))]
    for img in result.images:
        blocks.append(
            ResourceLink(
                type="resource_link",
                name=Path(img.path).name,
                title=img.path,
                uri=img.uri,
                mime_type=img.mime_type,
                size=img.bytes,
                description=f"{img.width}x{img.height} full-size file at {img.path}",
            )
        )
    if with_preview and result.images:
        datas = [Path(img.path).read_bytes() for img in result.images]
        data = previews.preview(datas[0]) if len(datas) == 1 else previews.contact_sheet(datas)
        blocks.append(
            ImageContent(
                type="image",
                data=base64.b64encode(data).decode(),
                mime_type="image/jpeg",
                annotations=Annotations(audience=["user", "assistant"]),
            )
        )
    return blocks


def summary(result: GenerateResult) -> str:
    """One line for the model (and for hosts that cannot show images): what, where, cost, time."""
    hints = ""
    if result.hints:
        # Warnings first: one line must carry what matters; the rest is in structured hints[].
        ranked = sorted(result.hints, key=lambda h: {"error": 0, "warning": 1, "info": 2}[h.severity])
        picked = [h for h in ranked[:2] if h.severity != "info"] or ranked[:1]
        # Fixes are sentences; the line supplies its own punctuation, so no ".;" or "..".
        shown = "; ".join(f"[{h.rule}] {h.fix.rstrip().rstrip('.')}" for h in picked)
        more = f" (+{len(ranked) - len(picked)} more in hints)" if len(ranked) > len(picked) else ""
        hints = f" Prompt hints: {shown}{more}."
    if result.dry_run:
        req = result.request
        where = f" → {req.out_dir}" if req else ""
        price = f"about ${result.estimated_cost_usd:.4f}" if result.estimated_cost_usd is not None else "no price known"
        return (
            f"Dry run: would send to {result.provider} model {result.model}{where} ({price}); "
            f"nothing sent or charged.{hints}"
        )
    files = ", ".join(
        f"{img.path} ({img.width}x{img.height} {img.mime_type.split('/')[1].upper()})" for img in result.images
    )
    cost = f"${result.cost_usd:.4f}" if result.cost_usd is not None else "cost not reported"
    count = len(result.images)
    noun = "image" if count == 1 else "images"
    failed = [a for a in result.attempts if not a.ok]
    tried = f" (after {', '.join(f'{a.provider} {a.error.code}' for a in failed if a.error)})" if failed else ""
    partial = ""
    if result.partial_error:
        missing = int(result.partial_error.get("missing", "0") or 0)
        count_text = f"{count} of {count + missing}"
        partial = f" {missing} failed and {'was' if missing == 1 else 'were'} not retried: " + (
            f"{result.partial_error['message']} — {result.partial_error.get('fix', '')}."
        )
    else:
        count_text = str(count)
    return (
        f"Saved {count_text} {noun}: {files} — {result.provider}/{result.model}, {cost}{tried}, "
        f"{result.elapsed_s:.1f} s.{partial}{hints}"
    )
