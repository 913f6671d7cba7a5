"""The ``local`` provider: the operations that need no model, done on this machine and labelled as such.

- ``upscale`` — Lanczos resampling ×2 or ×4, ``mode: fast`` only. It adds no detail: the result's
  text and metadata say "not AI super-resolution". ``conservative`` and ``creative`` need a model
  and are refused here before any work (pin a provider that has them).
- ``outpaint`` — the picture on a canvas grown by ``options["expand"]`` (:func:`imaging.masks.outpaint_canvas`),
  the new border filled without AI (the edges stretched outwards and blurred). It is a *canvas*,
  not generated content: the text says so, and it is meant as the input of a later inpaint, or as a
  plain extension where a soft border is enough.

A mask preview is **not** an operation here: it is what ``dry_run`` shows for ``inpaint``/``erase``
(:func:`imaging.masks.mask_preview`), so it never needs routing, a result record or a cost.

Like ``placeholder``, it is always configured and never joins an ``auto`` chain unless named in
``preferred`` (or pinned with ``provider``): nobody should get a resampled "upscale" in place of a
real one unasked. It is deterministic, costs nothing and uploads nothing; an ``https`` input image
the user gave is downloaded with the safe downloader. ``n`` is not honoured (every copy would be
the same picture), so the router skips it when ``n > 1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.to_thread

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks, resample
from imagegen_mcp.imaging.codec import sniff
from imagegen_mcp.imaging.download import input_bytes
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers.base import (
    Call,
    Capabilities,
    ModelInfo,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)
from imagegen_mcp.providers.http import SharedClient

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings

UPSCALE_MODEL = "lanczos"
OUTPAINT_MODEL = "edge-stretch"
NOT_AI = "Lanczos resampling: not AI super-resolution (no detail is added)"
CANVAS = "outpaint canvas: the new border is the picture's edges stretched and blurred, not generated content"


class LocalProvider:
    """Resampling and canvases, done here; no key, no network (beyond fetching an https input), no cost."""

    capabilities = Capabilities(
        name="local",
        operations={
            "upscale": frozenset({"input_images", "scale", "mode", "output_format"}),
            "outpaint": frozenset({"input_images", "expand", "output_format"}),
        },
        default_models={"upscale": UPSCALE_MODEL, "outpaint": OUTPAINT_MODEL},
        max_images=1,
        offline=True,
        notes="non-AI operations done here: Lanczos upscale (not AI super-resolution), outpaint canvas",
    )
    configured = True
    origin = None

    def __init__(self, http: SharedClient | None = None) -> None:
        self._http = http or SharedClient()

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> LocalProvider:
        return cls(http)

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        op = request.operation
        if op not in self.capabilities.operations:
            raise e.BadRequestError(
                f"local cannot do {op}; it does upscale (Lanczos) and outpaint (canvas) only; nothing was done",
                "pin a provider that can (run preflight to see each provider's operations)",
            )
        if not request.input_images:
            raise e.BadRequestError(f"{op} needs an input image; nothing was done", "pass the image")
        if request.output_format == "jpeg" and request.background == "transparent":
            raise e.BadRequestError(
                "background='transparent' needs png or webp, and jpeg has none", "use output_format='png'"
            )
        source = (await input_bytes(self._http, request.input_images[0], provider="local")).data
        if op == "upscale":
            data, text, model = await self._upscale(request, source), NOT_AI, UPSCALE_MODEL
        else:
            expand = masks.checked_expand(request.options.get("expand") or {})
            data = await anyio.to_thread.run_sync(resample.stretched_canvas, source, expand, request.output_format)
            text, model = CANVAS, OUTPAINT_MODEL
        return ProviderResult(
            images=[ProviderImage(data, sniff(data))],
            model=model,
            provider="local",
            cost_usd=0.0,
            text=text,
            surface="local",
            metadata={"operation": op, "method": model, "ai": False, "note": text},
        )

    async def _upscale(self, request: ProviderRequest, source: bytes) -> bytes:
        mode = request.options.get("mode") or "fast"
        if mode != "fast":
            raise e.BadRequestError(
                f"local upscales with Lanczos resampling only (mode 'fast'), not mode {mode!r}; nothing was done",
                "use mode='fast' for a non-AI resize, or pin a provider with AI upscaling for conservative/creative",
            )
        scale = int(request.options.get("scale") or 2)
        if scale not in (2, 4):
            raise e.BadRequestError(f"scale must be 2 or 4 (got {scale}); nothing was done", "pass scale=2 or scale=4")
        return await anyio.to_thread.run_sync(resample.upscale, source, scale, request.output_format)

    async def models(self) -> list[ModelInfo]:
        return [
            ModelInfo(UPSCALE_MODEL, frozenset({"upscale"}), NOT_AI),
            ModelInfo(OUTPAINT_MODEL, frozenset({"outpaint"}), CANVAS),
        ]

    async def knows_model(self, model: str) -> bool:
        return model in (UPSCALE_MODEL, OUTPAINT_MODEL)

    async def check(self, model: str | None) -> list[PreflightCheck]:
        return []  # nothing can be missing: Pillow is a dependency, and the operations need nothing else

    async def aclose(self) -> None:
        return None
