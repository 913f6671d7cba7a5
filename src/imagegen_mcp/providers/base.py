"""The provider protocol: the one seam between the pipeline and whoever draws the pixels.

A provider is a small class that declares what it can do (:class:`Capabilities`), turns a
:class:`ProviderRequest` into a :class:`ProviderResult`, and checks itself for ``preflight``.
OpenRouter and the offline placeholder implement it today; an OpenAI-compatible image endpoint or
a local Stable Diffusion server would be another class here, with no change to the pipeline.

Providers raise only :class:`~imagegen_mcp.errors.ProviderError` subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from imagegen_mcp.models import AspectRatio, ImageSize, PreflightCheck, Surface


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; shown by preflight and used to refuse impossible requests early."""

    name: str
    offline: bool
    needs_key: bool
    max_images: int
    surfaces: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class ProviderRequest:
    prompt: str
    model: str
    image_size: ImageSize | None = None
    aspect_ratio: AspectRatio | None = None
    n: int = 1
    surface: Surface = "auto"
    # Baseline/reference images: data URLs or https URLs, sent in this order.
    input_images: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderImage:
    """Raw bytes as the provider sent them, with the MIME type sniffed from those bytes."""

    data: bytes
    mime_type: str


@dataclass
class ProviderResult:
    images: list[ProviderImage]
    model: str
    provider: str
    generation_id: str | None = None
    cost_usd: float | None = None
    text: str | None = None
    finish_reason: str | None = None
    surface: str | None = None
    attempts: int = 1
    upstream: dict[str, str] = field(default_factory=dict)  # e.g. the upstream provider's display name


@runtime_checkable
class Provider(Protocol):
    capabilities: Capabilities

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Make the images. Cancellation (AnyIO) must stop any upstream request."""
        ...

    async def check(self, model: str) -> list[PreflightCheck]:
        """Readiness checks for preflight; each failing check carries a copy-paste fix."""
        ...
