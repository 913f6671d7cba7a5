"""The offline provider: an honest "PLACEHOLDER" image of the right size for every operation.

It needs no key, uploads nothing, is deterministic for a given request, and says what it is in the
pixels as well as in the result (provider ``placeholder``, cost 0). The demo, users without a key,
and tests of the layers above the provider use it. Per operation (the request contract in
:mod:`~imagegen_mcp.providers.base`):

- ``generate`` — a labelled drawing at ``aspect_ratio`` × ``image_size``;
- ``edit`` / ``inpaint`` / ``erase`` / ``style_transfer`` / ``variation`` — the input image, tinted and
  labelled with the operation, at the input's size; inpaint and erase outline the mask's area;
- ``outpaint`` — the input on a canvas grown by ``options["expand"]``, the new border drawn as placeholder;
- ``upscale`` — the input resampled ``options["scale"]`` times, labelled (it is not an upscale);
- ``remove_background`` — an RGBA PNG with a real alpha channel: the input as an oval cut-out on a
  transparent ground, labelled.

An ``https`` input image is downloaded with the safe downloader (that is the only network use: the
user gave the URL; nothing is uploaded).
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from typing import TYPE_CHECKING

import anyio.to_thread

from imagegen_mcp.errors import BadRequestError
from imagegen_mcp.imaging import placeholder_edits
from imagegen_mcp.imaging.download import input_bytes
from imagegen_mcp.models import AspectRatio, ImageSize, PreflightCheck
from imagegen_mcp.providers.base import (
    ARGUMENTS,
    OPERATIONS,
    Call,
    Capabilities,
    ModelInfo,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.providers.http import SharedClient

# Long edge in pixels for each image_size; small enough to be instant, big enough to read.
LONG_EDGE = {"low": 512, "medium": 1024, "high": 2048}


def dimensions(aspect_ratio: AspectRatio | None, image_size: ImageSize | None) -> tuple[int, int]:
    """Pixel size for a ratio such as ``16:9`` with the long edge set by ``image_size``."""
    long_edge = LONG_EDGE[image_size or "medium"]
    w_ratio, h_ratio = (float(x) for x in (aspect_ratio or "1:1").split(":"))
    if w_ratio >= h_ratio:
        return long_edge, max(1, round(long_edge * h_ratio / w_ratio))
    return max(1, round(long_edge * w_ratio / h_ratio)), long_edge


def draw(prompt: str, width: int, height: int, index: int = 0) -> bytes:
    """A PNG: a calm colour from the prompt's hash, a frame, the word PLACEHOLDER and the prompt."""
    from PIL import Image, ImageDraw, ImageFont

    digest = hashlib.sha256(f"{prompt}\x00{index}".encode()).digest()
    background = (64 + digest[0] // 3, 64 + digest[1] // 3, 64 + digest[2] // 3)
    im = Image.new("RGB", (width, height), background)
    d = ImageDraw.Draw(im)
    edge = max(2, min(width, height) // 64)
    d.rectangle((edge, edge, width - edge - 1, height - edge - 1), outline=(235, 235, 235), width=edge)
    d.line((edge, edge, width - edge, height - edge), fill=(200, 200, 200), width=max(1, edge // 2))
    d.line((edge, height - edge, width - edge, edge), fill=(200, 200, 200), width=max(1, edge // 2))
    title_size = max(10, min(width, height) // 10)
    body_size = max(8, min(width, height) // 28)
    title = ImageFont.load_default(size=title_size)
    body = ImageFont.load_default(size=body_size)
    label = "PLACEHOLDER"
    box = d.textbbox((0, 0), label, font=title)
    x, y = (width - (box[2] - box[0])) // 2, height // 2 - (box[3] - box[1]) - body_size
    d.rectangle((x - 8, y - 4, x + box[2] - box[0] + 8, y + box[3] - box[1] + 12), fill=(20, 20, 20))
    d.text((x, y), label, font=title, fill=(255, 255, 255))
    chars = max(12, int(width / (body_size * 0.55)) - 4)
    lines = textwrap.wrap(prompt, width=chars)[:4]
    ty = height // 2 + body_size // 2
    for line in lines:
        lb = d.textbbox((0, 0), line, font=body)
        lx = (width - (lb[2] - lb[0])) // 2
        d.rectangle((lx - 4, ty - 2, lx + lb[2] - lb[0] + 4, ty + body_size + 4), fill=(20, 20, 20))
        d.text((lx, ty), line, font=body, fill=(240, 240, 240))
        ty += int(body_size * 1.35)
    footer = f"{width}x{height} · no provider was called · cost $0"
    d.text((edge * 3, height - edge * 3 - body_size), footer, font=body, fill=(240, 240, 240))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


class PlaceholderProvider:
    """Draws locally; uploads nothing.

    It takes every operation and every argument: it is a labelled stand-in that draws the requested
    shape, so a workflow can be tried end to end offline. It never joins an ``auto`` chain unasked.
    """

    capabilities = Capabilities(
        name="placeholder",
        operations=dict.fromkeys(OPERATIONS, ARGUMENTS),
        default_models=dict.fromkeys(OPERATIONS, "placeholder"),
        max_images=4,
        offline=True,
        notes="draws a labelled placeholder locally for every operation; no key, no upload, no cost",
    )
    configured = True
    origin = None

    def __init__(self, http: SharedClient | None = None) -> None:
        self._http = http

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> PlaceholderProvider:
        return cls(http)

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        images = []
        if request.operation == "generate":
            width, height = dimensions(request.aspect_ratio, request.image_size)
            for i in range(request.n):
                png = await anyio.to_thread.run_sync(draw, request.prompt, width, height, i)
                images.append(ProviderImage(png, "image/png"))
        else:
            source = await self._input(request, request.input_images[0] if request.input_images else None)
            mask = await self._input(request, request.mask) if request.mask else None
            for i in range(request.n):
                png = await anyio.to_thread.run_sync(
                    placeholder_edits.render, request.operation, source, mask, request.prompt, dict(request.options), i
                )
                images.append(ProviderImage(png, "image/png"))
        return ProviderResult(
            images=images,
            model="placeholder",
            provider="placeholder",
            generation_id=None,
            cost_usd=0.0,
            surface="local",
            text=f"placeholder {request.operation}: a labelled stand-in drawn locally, not a real result",
            metadata={"operation": request.operation, "offline": True},
        )

    async def _input(self, request: ProviderRequest, ref: str | None) -> bytes:
        if ref is None:
            raise BadRequestError(
                f"{request.operation} needs an input image; nothing was drawn", "pass the image to work on"
            )
        if self._http is None and not ref.startswith("data:"):
            raise BadRequestError("this placeholder has no HTTP client to fetch an https input", "pass a local file")
        from imagegen_mcp.providers.http import SharedClient

        image = await input_bytes(self._http or SharedClient(), ref, provider="placeholder")
        return image.data

    async def models(self) -> list[ModelInfo]:
        return [ModelInfo("placeholder", frozenset(OPERATIONS), "a labelled local drawing")]

    async def knows_model(self, model: str) -> bool:
        return model == "placeholder"

    async def check(self, model: str | None) -> list[PreflightCheck]:
        return []  # nothing can be missing: the capability line preflight prints is the whole story

    async def aclose(self) -> None:
        return None
