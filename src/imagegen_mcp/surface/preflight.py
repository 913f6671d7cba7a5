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

from imagegen_mcp.models import PreflightCheck, PreflightReport
from imagegen_mcp.pipeline import Services


async def run_preflight(services: Services, provider: str | None = None, model: str | None = None) -> PreflightReport:
    settings = services.settings
    chosen = provider or settings.provider
    model = "placeholder" if chosen == "placeholder" else (model or settings.model)
    backend = services.provider(chosen)
    caps = backend.capabilities
    kind = "offline" if caps.offline else "online, " + ("needs a key" if caps.needs_key else "no key needed")
    checks = [PreflightCheck(name="provider", ok=True, detail=f"{caps.name} ({kind}): {caps.notes}")]
    checks += await backend.check(model)
    checks.append(await anyio.to_thread.run_sync(writable, "output_dir", settings.output_dir, "IMAGEGEN_OUTPUT_DIR"))
    checks.append(await anyio.to_thread.run_sync(writable, "queue_dir", settings.queue_dir, "IMAGEGEN_QUEUE_DIR"))
    checks.append(await anyio.to_thread.run_sync(codecs))
    return PreflightReport(
        ok=all(c.ok for c in checks),
        checks=checks,
        provider=chosen,
        model=model,
        output_dir=str(settings.output_dir),
        queue_dir=str(settings.queue_dir),
    )


def writable(name: str, directory: Path, variable: str) -> PreflightCheck:
    """Create the directory if needed and prove a file can be written and removed in it."""
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
