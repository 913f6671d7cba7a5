"""Stable Diffusion model families and their defaults, shared by the ``a1111`` and ``comfyui`` providers.

A local server hosts whatever checkpoints its user downloaded, so sensible settings depend on the
checkpoint's *family*, read from its name (title, file name) — the only thing both APIs report:

==========  ===============================  ==========  =====  =====  =========================
family      recognised by (case-insensitive)  base edge   steps  cfg    sampler (A1111 / ComfyUI)
==========  ===============================  ==========  =====  =====  =========================
turbo       ``turbo``, ``lightning``,         512/1024*   6      1.5    Euler a / euler_ancestral
            ``hyper``, ``lcm``
flux        ``flux``                          1024        20     1.0    Euler / euler
sd3         ``sd3``, ``sd3.5``                1024        28     4.5    Euler / euler
sdxl        ``xl``, ``pony``, ``illustrious`` 1024        30     6.0    DPM++ 2M Karras / dpmpp_2m
sd2         ``v2-``, ``sd2``, ``768-v``       768         25     7.0    DPM++ 2M Karras / dpmpp_2m
sd15        anything else                     512         25     7.0    DPM++ 2M Karras / dpmpp_2m
==========  ===============================  ==========  =====  =====  =========================

(*) a turbo/lightning checkpoint takes the base edge of what it distils: 1024 when its name says
``xl``, else 512. ``image_size`` scales the base edge: ``low`` ×0.75, ``medium`` ×1, ``high`` ×1.5
(A1111 reaches ``high`` with its hires-fix pass instead: see :mod:`~imagegen_mcp.providers.a1111_wire`).
``aspect_ratio`` keeps the family's pixel area and rounds each side to a multiple of 64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imagegen_mcp.models import AspectRatio, ImageSize


@dataclass(frozen=True)
class Family:
    name: str
    base_edge: int
    steps: int
    cfg: float
    a1111_sampler: str
    comfy_sampler: str
    comfy_scheduler: str = "karras"


SD15 = Family("sd15", 512, 25, 7.0, "DPM++ 2M Karras", "dpmpp_2m")
SD2 = Family("sd2", 768, 25, 7.0, "DPM++ 2M Karras", "dpmpp_2m")
SDXL = Family("sdxl", 1024, 30, 6.0, "DPM++ 2M Karras", "dpmpp_2m")
SD3 = Family("sd3", 1024, 28, 4.5, "Euler", "euler", "sgm_uniform")
FLUX = Family("flux", 1024, 20, 1.0, "Euler", "euler", "simple")
TURBO = Family("turbo", 512, 6, 1.5, "Euler a", "euler_ancestral", "normal")
TURBO_XL = Family("turbo", 1024, 6, 1.5, "Euler a", "euler_ancestral", "normal")

SCALE = {"low": 0.75, "medium": 1.0, "high": 1.5}


def family_of(checkpoint: str) -> Family:
    """The family a checkpoint's title or file name suggests (SD 1.5 when nothing does)."""
    name = checkpoint.lower()
    if any(k in name for k in ("turbo", "lightning", "hyper", "lcm")):
        return TURBO_XL if "xl" in name else TURBO
    if "flux" in name:
        return FLUX
    if "sd3" in name:
        return SD3
    if any(k in name for k in ("xl", "pony", "illustrious")):
        return SDXL
    if any(k in name for k in ("v2-", "sd2", "768-v", "v2.1", "v2_1")):
        return SD2
    return SD15


def dimensions(family: Family, aspect_ratio: AspectRatio | None, image_size: ImageSize | None) -> tuple[int, int]:
    """Width and height for ``aspect_ratio`` at the family's pixel area (scaled by ``image_size``), ÷64."""
    edge = family.base_edge * SCALE.get(image_size or "medium", 1.0)
    w_ratio, h_ratio = (float(x) for x in (aspect_ratio or "1:1").split(":"))
    ratio = w_ratio / h_ratio
    width = edge * math.sqrt(ratio)
    height = edge / math.sqrt(ratio)
    return round64(width), round64(height)


def round64(value: float) -> int:
    return max(64, round(value / 64) * 64)


def round8(value: float) -> int:
    """Latent sizes are multiples of 8 pixels (an input image's size, kept as close as that allows)."""
    return max(64, round(value / 8) * 8)
