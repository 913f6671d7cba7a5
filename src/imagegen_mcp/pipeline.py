"""The one path of every operation: input rails → lint → edit rails → route → provider → image store → result.

``generate_image``, ``edit_image``, ``upscale_image``, the CLI and the queue worker all call
:func:`generate` (whatever ``request.operation`` is: generate, an edit mode, upscale); none of them
re-implements a step. Inputs are checked and prepared by :mod:`imagegen_mcp.operations`. Everything
the pipeline needs lives in :class:`Services`, built once per process (the server's lifespan, or the
CLI's ``async with``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread

from imagegen_mcp import costs, operations
from imagegen_mcp.config import Settings
from imagegen_mcp.errors import RequestError, StorageError, UnsavedImagesError, first_error
from imagegen_mcp.imaging import codec, masks
from imagegen_mcp.lint.rails import Rails
from imagegen_mcp.models import GenerateRequest, GenerateResult, Hint, ResolvedRequest, SavedImage
from imagegen_mcp.providers.base import Call, ProgressFn, Provider, ProviderRequest, ProviderResult, monotonic
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.registry import Providers
from imagegen_mcp.queue.health import Health
from imagegen_mcp.queue.spend import Spend
from imagegen_mcp.queue.store import make_health
from imagegen_mcp.routing import OPT_IN_ONLY, Chain, Preferences, Router
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage import recovery
from imagegen_mcp.storage.objects import ObjectStore, open_object_store, publish
from imagegen_mcp.storage.registry import GeneratedImages, generated_images

# Lint rules that refuse a request even outside strict mode: the request cannot be what the user meant.
BLOCKING_RULES = frozenset({"empty-prompt", "edit-needs-baseline"})


@dataclass(frozen=True)
class LintOptions:
    clarify_hints: bool = True
    strict_clarify: bool = False
    allow_no_baseline_on_edit_intent: bool = False


@dataclass
class Services:
    """The process-wide things a generation needs. No module-level singletons."""

    settings: Settings
    providers: Providers
    router: Router
    http: SharedClient
    health: Health
    registry: GeneratedImages  # which images this server saved (the upload exemption)
    objects: ObjectStore | None = None  # the team shape's shared bucket (storage/objects.py)
    spend: Spend | None = None  # what was billed per day (queue/spend.py); None: not recorded

    def provider(self, name: str | None) -> Provider:
        """One provider by name (preflight, the queue); ``None`` means the default one."""
        chosen = name or self.settings.provider
        if chosen == "auto":
            chosen = next((n for n in self.router.order if n not in OPT_IN_ONLY and self.providers.configured(n)),
                          "openrouter")  # fmt: skip
        if chosen not in self.providers:
            raise RequestError(f"provider {chosen!r} is not available", f"use one of: {', '.join(self.providers)}")
        return self.providers[chosen]


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Build the router over lazily-built providers (each imported on first use); close them on exit."""
    http = SharedClient(settings.request_timeout_s)
    providers = Providers(settings, http, settings.provider_order)
    health = make_health(settings)
    preferences = Preferences(settings.preferred, settings.blocked, settings.weights)
    router = Router(
        providers, http, order=settings.provider_order, default=settings.provider, preferences=preferences,
        health=health,
    )  # fmt: skip
    try:
        objects = open_object_store(settings.storage)
        yield Services(
            settings, providers, router, http, health, generated_images(settings.queue_dir), objects,
            Spend(settings.queue_dir),
        )  # fmt: skip
    finally:
        with anyio.CancelScope(shield=True):
            for provider in providers.built():
                await provider.aclose()
            await http.aclose()
            health.close()


def resolve(
    settings: Settings, request: GenerateRequest, chain: Chain, inputs: operations.Inputs | None = None
) -> ResolvedRequest:
    """The request as it would be sent: the chain's first provider and model, and where files go."""
    provider, model = chain.links[0]
    inputs = inputs or operations.Inputs(aspect_ratio=request.aspect_ratio)
    return ResolvedRequest(
        prompt=request.prompt,
        model=model,
        provider=provider.capabilities.name,
        chain=chain.describe(),
        prepared=inputs.prepared(),
        image_size=request.image_size,
        aspect_ratio=inputs.aspect_ratio,
        n=request.n,
        surface=request.surface,
        out_dir=str(settings.output_dir),
        out=request.out,
        overwrite=request.overwrite,
    )


def lint_hints(
    resolved: ResolvedRequest, options: LintOptions, *, has_baseline: bool = False, operation: str = "generate"
) -> tuple[list[Hint], bool]:
    """Run the linter: the hints to return and whether the prompt reads as an edit.

    Raises :class:`RequestError` when the request must not be sent.
    """
    from imagegen_mcp.lint import LintContext, lint

    report = lint(
        resolved.prompt,
        LintContext(
            model=resolved.model,
            provider=resolved.provider,
            aspect_ratio=resolved.aspect_ratio,
            has_baseline=has_baseline,
            count=resolved.n,
            operation=operation,
        ),
    )
    effective = report.strict() if options.strict_clarify else report
    # Outside strict mode only an impossible request is refused (an edit with nothing to edit, an
    # empty prompt); in strict mode every error left after raising ambiguous hints one level is.
    blocking = [
        h for h in effective.hints if h.rule in BLOCKING_RULES or (options.strict_clarify and h.severity == "error")
    ]
    if options.allow_no_baseline_on_edit_intent:
        blocking = [h for h in blocking if h.rule != "edit-needs-baseline"]
    if blocking:
        listed = "; ".join(f"[{h.rule}] {h.message} Fix: {h.fix}" for h in blocking)
        fix = "rewrite the prompt as each fix says"
        if any(h.rule == "edit-needs-baseline" for h in blocking):
            fix += " (or pass allow_no_baseline_on_edit_intent=true to generate from scratch)"
        if options.strict_clarify:
            fix += ", or call without strict_clarify"
        raise RequestError(f"the prompt was not sent (nothing was charged): {listed}", fix, code="prompt_refused")
    if not options.clarify_hints:
        return [], report.edit_intent
    hints = [Hint(rule=h.rule, severity=h.severity, message=h.message, fix=h.fix, span=h.span) for h in effective.hints]
    return hints, report.edit_intent


async def generate(
    services: Services,
    request: GenerateRequest,
    *,
    dry_run: bool = False,
    lint_options: LintOptions = LintOptions(),
    progress: ProgressFn | None = None,
) -> GenerateResult:
    """Turn one validated request into saved images and a result record."""
    started = time.monotonic()
    # Heartbeat, router and polling loop all report into one progress stream: it must only grow (MCP).
    progress = monotonic(progress)
    settings = services.settings
    # Everything that would only fail after the provider billed (the path, its names, the output directory,
    # free space) is refused first, before inputs are read or a provider is asked anything.
    store.check_target(settings.output_dir, request.out, min_free_bytes=settings.min_free_bytes)
    inputs = await operations.prepare(services, request)
    baseline = inputs.baseline
    has_image = baseline is not None
    rails = Rails(request.variation_strength, tuple(request.must_keep), request.lock_palette, request.lock_composition)
    prompt_sent, rails_applied = operations.edit_rails(request, rails) if has_image else (request.prompt, [])
    provider_request = ProviderRequest(
        prompt=prompt_sent,
        model=request.model or settings.model,
        operation=request.operation,
        image_size=request.image_size,
        aspect_ratio=inputs.aspect_ratio,
        n=request.n,
        surface=request.surface,
        negative_prompt=request.negative_prompt,
        seed=request.seed,
        background=request.background,
        output_format=request.output_format,
        input_images=inputs.images,
        mask=inputs.mask,
        options=inputs.options,
    )
    preferences = _preferences(request)
    try:
        chain = await services.router.chain(
            provider_request, pinned=request.provider, model=request.model, preferences=preferences
        )
    except RequestError as exc:
        raise operations.explain_refusal(request, exc) from None
    resolved = resolve(settings, request, chain, inputs)
    hints: list[Hint] = []
    edit_intent = False
    if request.prompt.strip() or request.operation == "generate":  # optional prompts left empty: nothing to lint
        hints, edit_intent = lint_hints(resolved, lint_options, has_baseline=has_image, operation=request.operation)
    diagnostics = {
        "edit_intent_detected": edit_intent,
        "baseline_applied": baseline is not None,
        "baseline_source": baseline.source if baseline else None,
        "baseline_source_kind": request.baseline_source_kind if baseline else None,
        "baseline_resolution_policy": baseline.resolution_policy if baseline else None,
        "rails_applied": rails_applied,
    }
    chain, estimate = await priced(services, request, provider_request, chain, dry_run=dry_run)
    if dry_run:
        dry = GenerateResult(
            model=resolved.model,
            provider=resolved.provider,
            operation=request.operation,
            elapsed_s=round(time.monotonic() - started, 3),
            hints=hints,
            dry_run=True,
            request=resolved.model_copy(update={"prompt_sent": prompt_sent}),
            estimated_cost_usd=estimate.usd if estimate else None,
            **diagnostics,
        )
        if inputs.image is not None and inputs.mask_png is not None:
            dry.mask_preview = await anyio.to_thread.run_sync(masks.mask_preview, inputs.image, inputs.mask_png)
        return dry
    call = Call(progress)
    try:
        outcome = await _with_heartbeat(
            services.router.run(provider_request, call, chain), progress, settings.progress_interval_s, resolved.model
        )
    except BaseException:  # every billed attempt counts towards today's spend, failed calls included
        await record_spend(services, call.cost_usd, None)
        raise
    await record_spend(services, call.cost_usd, estimate)
    if progress is not None:
        await progress(time.monotonic() - started, None, "saving images")
    try:
        saved = await anyio.to_thread.run_sync(
            save_all, settings.output_dir, outcome, resolved, services.registry, services.objects,
            operations.wants_alpha(request),
        )  # fmt: skip
    except StorageError as exc:  # billed, not saved: keep the bytes and say where (design decision 5)
        raise await anyio.to_thread.run_sync(keep_unsaved, settings, outcome, resolved, exc, call.cost_usd) from None
    partial = outcome.partial_error
    hints += operations.transparency_hints(request, saved)
    return GenerateResult(
        images=saved,
        model=outcome.model,
        provider=outcome.provider,
        operation=request.operation,
        upstream_provider=outcome.upstream.get("provider"),
        generation_id=outcome.generation_id,
        cost_usd=call.cost_usd,
        elapsed_s=round(time.monotonic() - started, 3),
        hints=hints,
        text=outcome.text,
        attempts=operations.attempt_records(call.attempts, outcome.metadata, settings.secrets()),
        partial_error={**partial.to_dict(), "missing": str(resolved.n - len(saved))} if partial else None,
        **diagnostics,
    )


async def priced(
    services: Services, request: GenerateRequest, provider_request: ProviderRequest, chain: Chain, *, dry_run: bool
) -> tuple[Chain, costs.Estimate | None]:
    """The chain without the links a cost cap rules out, and the first link's estimate.

    Estimates are made for dry runs and capped calls only: an uncapped call asks no price list.
    Raises :class:`costs.BudgetError` (nothing sent) when no link fits the caps.
    """
    settings = services.settings
    spent = await anyio.to_thread.run_sync(services.spend.today) if services.spend else 0.0
    caps = costs.Caps(request.max_cost_usd, settings.max_cost_usd, settings.daily_budget_usd, spent)
    if not (caps.any or dry_run):
        return chain, None
    estimates = [await costs.estimate(p, m, provider_request) for p, m in chain.links]
    if not caps.any:
        return chain, estimates[0]
    refusals = [costs.over(e, caps) for e in estimates]
    kept = [(link, e) for link, e, r in zip(chain.links, estimates, refusals, strict=True) if r is None]
    if not kept:
        assert refusals[0] is not None
        raise refusals[0]
    return Chain([link for link, _ in kept], chain.pinned), kept[0][1]


async def record_spend(services: Services, billed: float | None, estimate: costs.Estimate | None) -> None:
    """Add the call's cost to today's spend: what was billed, or the estimate when no cost was reported."""
    usd = billed if billed is not None else (estimate.usd if estimate else None)
    if services.spend is not None and usd:
        spend = services.spend
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(spend.add, usd)


def _preferences(request: GenerateRequest) -> Preferences | None:
    prefs = request.provider_preferences
    if prefs is None:
        return None
    return Preferences(tuple(prefs.preferred), frozenset(prefs.blocked), {str(k): v for k, v in prefs.weights.items()})


async def _with_heartbeat(
    work: Awaitable[ProviderResult], progress: ProgressFn | None, interval: float, model: str
) -> ProviderResult:
    """Await ``work`` while reporting progress every ``interval`` seconds (hosts cancel silent calls)."""
    if progress is None:
        return await work
    report = progress
    started = time.monotonic()

    async def beat() -> None:
        await report(0.0, None, f"sent to {model}")
        while True:
            await anyio.sleep(interval)
            elapsed = time.monotonic() - started
            await report(elapsed, None, f"waiting for {model} ({elapsed:.0f} s)")

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(beat)
            try:
                result = await work
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise first_error(group) from None
    return result


def save_all(
    output_dir: Path,
    outcome: ProviderResult,
    resolved: ResolvedRequest,
    registry: GeneratedImages | None = None,
    objects: ObjectStore | None = None,
    check_alpha: bool = False,
) -> list[SavedImage]:
    """Write every image atomically under the output directory (runs in a worker thread).

    With ``check_alpha`` (transparency was asked) each saved file is read back and its alpha
    channel checked: ``transparent`` says whether the saved bytes really have transparent pixels.

    Each saved image is recorded in ``registry`` by sha256: that, and only that, lets it be sent
    back to a provider without ``confirm_external_upload``. In the team shape each is then published
    to the shared bucket before the call is reported done, so any replica serves its uri.
    """
    saved: list[SavedImage] = []
    root = output_dir.resolve()
    for i, image in enumerate(outcome.images):
        facts = codec.inspect(image.data)
        target = store.resolve_target(root, resolved.out, store.default_stem(resolved.prompt), facts.mime_type)
        if i and resolved.out and not resolved.out.endswith("/"):
            target = target.with_name(f"{target.stem}-{i + 1}{target.suffix}")
        final = store.save_atomic(target, image.data, overwrite=resolved.overwrite)
        if registry is not None:
            registry.add(facts.sha256, str(final))
        link = publish(objects, "images", root, final, image.data, facts.mime_type)
        saved.append(
            SavedImage(
                url=link,
                path=str(final),
                uri=store.image_uri(root, final),
                mime_type=facts.mime_type,
                width=facts.width,
                height=facts.height,
                bytes=facts.size,
                sha256=facts.sha256,
                transparent=codec.has_transparency(final.read_bytes()) if check_alpha else None,
            )
        )
    return saved


def keep_unsaved(
    settings: Settings,
    outcome: ProviderResult,
    resolved: ResolvedRequest,
    exc: StorageError,
    cost_usd: float | None,
) -> UnsavedImagesError:
    """Put billed images that could not be saved in a recovery folder; the error that says where.

    ``cost_usd`` is what the whole call was billed (every attempt).
    """
    cost = f"${cost_usd:.4f}" if cost_usd is not None else "an unreported amount"
    meta = {
        "model": outcome.model,
        "provider": outcome.provider,
        "generation_id": outcome.generation_id,
        "cost_usd": cost_usd,
        "prompt": resolved.prompt,
        "out": resolved.out,
        "out_dir": resolved.out_dir,
        "error": exc.to_dict(),
    }
    folder = recovery.keep([image.data for image in outcome.images], meta, queue_dir=settings.queue_dir)
    count = len(outcome.images)
    noun = "image" if count == 1 else "images"
    if folder is None:
        return UnsavedImagesError(
            f"{outcome.provider} made {count} {noun} (billed {cost}) but they could not be saved ({exc.message}),"
            " nor kept in a recovery folder",
            f"{exc.fix}; generation id {outcome.generation_id or 'not reported'}",
            cost_usd=cost_usd,
            generation_id=outcome.generation_id,
        )
    files = ", ".join(str(p) for p in recovery.files_in(folder))
    return UnsavedImagesError(
        f"{outcome.provider} made {count} {noun} (billed {cost}) but saving failed: {exc.message}."
        f" The {noun} are kept in {folder} ({files})",
        f"{exc.fix}; then copy the files from {folder} to where you want them (generating again would be billed again)",
        recovery=str(folder),
        cost_usd=cost_usd,
        generation_id=outcome.generation_id,
    )
