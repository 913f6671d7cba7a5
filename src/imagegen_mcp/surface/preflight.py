"""Readiness checks, each failing one with a copy-paste fix.

Used by the ``preflight`` tool and ``imagegen-mcp preflight [--json]`` (exit 1 when not ready).
A failing check is a report, not an error: the agent reads ``ok`` and the fixes.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

import anyio.to_thread

from imagegen_mcp.models import PreflightCheck, PreflightReport, ProviderReport
from imagegen_mcp.pipeline import Services
from imagegen_mcp.providers.registry import BY_NAME
from imagegen_mcp.queue.store import check_database
from imagegen_mcp.routing import OPT_IN_ONLY


async def run_preflight(services: Services, provider: str | None = None, model: str | None = None) -> PreflightReport:
    """Every provider's readiness, then the default (or named) one's checks and the local ones."""
    settings = services.settings
    chosen = provider or settings.provider
    reports = await provider_reports(services, provider, model, chosen=chosen)
    checks: list[PreflightCheck] = []
    if chosen == "auto":
        ready = [r.name for r in reports if r.ok and r.name not in OPT_IN_ONLY]
        checks.append(
            PreflightCheck(
                name="routing",
                ok=bool(ready),
                detail=f"auto: providers tried in this order: {' → '.join(ready)}" if ready else
                "auto: no configured provider is ready",
                fix=None if ready else "configure a provider (see providers[] for each fix), or export "
                "IMAGEGEN_PROVIDER=placeholder to work offline",
            )
        )  # fmt: skip
        shown_model = model or settings.model
    else:
        report = next(r for r in reports if r.name == chosen)
        caps = services.providers[chosen].capabilities
        kind = "offline" if caps.offline else "online, configured by " + (" or ".join(caps.key_variables) or "-")
        checks.append(PreflightCheck(name="provider", ok=True, detail=f"{caps.name} ({kind}): {caps.notes}"))
        checks += report.checks
        shown_model = report.default_models.get("generate", "") if chosen == "placeholder" or not model else model
    checks.append(await anyio.to_thread.run_sync(writable, "output_dir", settings.output_dir, "IMAGEGEN_OUTPUT_DIR"))
    checks.append(await anyio.to_thread.run_sync(writable, "queue_dir", settings.queue_dir, "IMAGEGEN_QUEUE_DIR"))
    database = await anyio.to_thread.run_sync(check_database, settings)
    if database is not None:  # the team shape's PostgreSQL queue
        checks.append(PreflightCheck(name="queue_database", ok=database[0], detail=database[1], fix=database[2]))
    if services.objects is not None:  # the team shape's bucket: reachable and writable
        checks += await anyio.to_thread.run_sync(services.objects.check)
    checks.append(await anyio.to_thread.run_sync(codecs))
    if settings.default_sources:
        shown = {
            "model": settings.model, "style": settings.default_style, "aspect_ratio": settings.default_aspect_ratio,
            "image_size": settings.default_image_size, "out_dir": str(settings.output_dir),
        }  # fmt: skip
        detail = ", ".join(f"{k}={shown[k]} ({where})" for k, where in settings.default_sources.items())
        checks.append(PreflightCheck(name="defaults", ok=True, detail=detail))
    spend = await anyio.to_thread.run_sync(spending, services)
    if settings.daily_budget_usd is not None:
        left = spend["left_usd"] or 0.0
        checks.append(
            PreflightCheck(
                name="budget",
                ok=left > 0,
                detail=f"today (UTC) ${spend['today_usd']:.4f} spent of ${settings.daily_budget_usd:g}, "
                f"${left:.4f} left",
                fix=None if left > 0 else "wait for tomorrow (UTC) or raise IMAGEGEN_DAILY_BUDGET_USD",
            )
        )
    return PreflightReport(
        ok=all(c.ok for c in checks),
        checks=checks,
        providers=reports,
        provider=chosen,
        model=shown_model or settings.model,
        output_dir=str(settings.output_dir),
        queue_dir=str(settings.queue_dir),
        spend=spend,
    )


def spending(services: Services) -> dict[str, float | None]:
    """Today's spend (UTC day, from the job store's ledger), the caps, and what is left of the day's budget."""
    settings = services.settings
    today = round(services.spend.today(), 6) if services.spend else 0.0
    budget = settings.daily_budget_usd
    return {
        "today_usd": today,
        "daily_budget_usd": budget,
        "left_usd": round(max(0.0, budget - today), 6) if budget is not None else None,
        "max_cost_usd": settings.max_cost_usd,
    }


async def provider_reports(
    services: Services, only: str | None, model: str | None, *, chosen: str
) -> list[ProviderReport]:
    """One entry per known provider; configured ones are checked side by side (one slow API delays none).

    The chosen provider is checked even when it is not configured: its checks say what is missing.
    """
    names = [only] if only and only != "auto" else list(services.providers)
    reports: dict[str, ProviderReport] = {}

    async def check(name: str) -> None:
        reports[name] = await _report(services, name, model if chosen == name else None, force=chosen == name)

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(check, name)
    return [reports[n] for n in names]


async def _report(services: Services, name: str, model: str | None, *, force: bool) -> ProviderReport:
    entry = BY_NAME[name]
    configured = services.providers.configured(name)
    if not configured and not force:
        needs = " and ".join(filter(None, [" or ".join(entry.key_variables),
                                           entry.base_variable if entry.needs_base_url else None]))  # fmt: skip
        example = " ".join(f"export {v}=…" for v in (entry.key_variables[:1] + (
            (entry.base_variable,) if entry.needs_base_url and entry.base_variable else ())))  # fmt: skip
        return ProviderReport(name=name, configured=False, ok=False, detail=f"not configured: set {needs}",
                              fix=example)  # fmt: skip
    provider = services.providers[name]
    caps = provider.capabilities
    checks = await provider.check(model)
    failed = [c for c in checks if not c.ok]
    cooling = services.health.seconds_left(name)
    detail = "; ".join(c.detail for c in failed) if failed else "ready" + (
        "" if name not in OPT_IN_ONLY else " (used only when pinned with provider or named in preferred)")  # fmt: skip
    if cooling:
        detail += f"; cooling down for {cooling:.0f} s after repeated failures (auto routing skips it)"
    return ProviderReport(
        name=name,
        configured=configured,
        ok=configured and not failed,
        operations=list(caps.operations),
        default_models=dict(caps.default_models) if name != "placeholder" else {"generate": "placeholder"},
        cooldown_s=round(cooling, 1) if cooling else None,
        detail=detail,
        fix="; ".join(c.fix for c in failed if c.fix) or None,
        checks=checks,
    )


def writable(name: str, directory: Path, variable: str) -> PreflightCheck:
    """Create the directory if needed and prove a file can be written and removed in it.

    A directory that is (or lies under) a file gets a fix that works: ``mkdir -p`` cannot help there.
    """
    from imagegen_mcp.storage.local import blocking_file

    blocker = blocking_file(directory)
    if blocker is not None:
        what = "is a file" if blocker == directory else f"is under {blocker}, which is a file"
        return PreflightCheck(
            name=name,
            ok=False,
            detail=f"{directory} {what}, not a directory",
            fix=f"export {variable}=/an/absolute/writable/dir (and restart), or move the file '{blocker}' away",
        )
    probe = directory / f".preflight-{secrets.token_hex(4)}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        return PreflightCheck(
            name=name,
            ok=False,
            detail=f"{directory} is not writable ({exc.strerror or exc})",
            fix=f"mkdir -p '{directory}' and make it writable, or export {variable}=/an/absolute/writable/dir",
        )
    return PreflightCheck(name=name, ok=True, detail=f"{directory} is writable")


def codecs() -> PreflightCheck:
    """Pillow can decode what providers send (PNG, JPEG, WebP) and encode previews (JPEG)."""
    try:
        from PIL import Image, features

        missing = [fmt for fmt in ("jpg", "webp", "zlib") if not features.check(fmt)]
        if not missing:
            buf = io.BytesIO()
            Image.new("RGB", (8, 8)).save(buf, "WEBP")
            Image.open(io.BytesIO(buf.getvalue())).load()
    except Exception as exc:  # any failure here means images cannot be handled
        return PreflightCheck(
            name="image_codecs",
            ok=False,
            detail=f"Pillow cannot handle images here ({exc.__class__.__name__}: {exc})",
            fix="python -m pip install --force-reinstall 'Pillow>=11'",
        )
    if missing:
        return PreflightCheck(
            name="image_codecs",
            ok=False,
            detail=f"Pillow was built without {', '.join(missing)} support",
            fix="python -m pip install --force-reinstall 'Pillow>=11'  (the wheels include every codec)",
        )
    return PreflightCheck(name="image_codecs", ok=True, detail="PNG, JPEG and WebP decode and encode")
