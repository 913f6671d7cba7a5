"""How each operation becomes an OpenAI Images API request (``openai`` and ``compatible`` providers).

OpenAI has three image endpoints; every operation but a plain generate is an ``/images/edits`` call
(multipart: ``image[]`` parts in order, an optional ``mask`` that applies to the first image):

=====================  =====================================================================================
``generate``           ``/images/generations``; with references (or a v1 baseline) ``/images/edits`` with
                       every image as ``image[]``, in order
``edit``               ``/images/edits``: the image, then any references; the prompt is the instruction
``inpaint``            ``/images/edits`` + ``mask`` (ours is white = change; OpenAI's is alpha 0 = change:
                       :func:`imaging.masks.to_alpha_mask`)
``erase``              inpaint with the instruction "remove what is in the masked area and fill it with the
                       surrounding background" (+ the prompt, when there is one)
``outpaint``           :func:`imaging.masks.outpaint_canvas` (the picture on a grown, transparent canvas) as
                       the image, its border as the mask, ``size`` the canvas (gpt-image-2: rounded down to
                       16 px; fixed-size models: the nearest ratio) and an instruction to extend the picture
``style_transfer``     ``/images/edits`` with the content image, then the style image, and an instruction
``variation``          ``/images/variations`` where the model has it (dall-e-2, retired); otherwise
                       ``/images/edits`` with "a variation of this image" (+ the prompt)
``remove_background``  ``/images/edits`` with ``background: transparent`` (png unless webp was asked) and an
                       instruction to keep only the subject; only models with transparency (not gpt-image-2)
``upscale``            not offered: OpenAI has no upscaler
=====================  =====================================================================================

``consistency`` (references): ``strict`` sends ``input_fidelity: high`` where the model takes it
(gpt-image-1/1.5; gpt-image-2 always keeps inputs at high fidelity and must not be sent it) and every
level adds a sentence saying how closely to follow the references. ``strength``, ``seed`` and
``negative_prompt`` have no OpenAI parameter: they are not declared, so the router skips this provider
when a request sets them (or refuses when it is pinned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.providers.base import ProviderRequest
from imagegen_mcp.providers.openai_catalogue import ModelSpec

ERASE = (
    "Remove what is in the masked area and fill it with the surrounding background, matching its texture, light "
    "and perspective, so nothing shows that anything was there."
)
OUTPAINT = (
    "Extend this picture outwards into the transparent border, continuing its scene, light and perspective "
    "naturally; keep the existing picture unchanged."
)
STYLE = (
    "Redraw the first image in the style of the second image (its palette, brushwork, texture and mood), "
    "keeping the first image's content and composition."
)
VARIATION = "Make a variation of this image: the same subject and composition, with fresh details."
CUT_OUT = (
    "Remove the background completely, leaving only the main subject on a transparent background; keep the "
    "subject exactly as it is."
)
CONSISTENCY = {
    "strict": "Keep the subject of the reference image(s) exactly the same: face, features, clothing and colours.",
    "balanced": "Keep the subject of the reference image(s) recognisably the same.",
    "loose": "Use the reference image(s) as loose inspiration.",
}


@dataclass
class Plan:
    """One Images API request: where it goes and what it carries."""

    path: str
    prompt: str | None
    images: list[bytes] = field(default_factory=list)  # the image parts, in order
    mask: bytes | None = None  # OpenAI's form: RGBA, alpha 0 = change, the first image's size
    fields: dict[str, Any] = field(default_factory=dict)  # extra form fields (size, background, input_fidelity…)
    notes: list[str] = field(default_factory=list)  # how the operation was mapped (result metadata)


def path_for(request: ProviderRequest, spec: ModelSpec) -> str:
    if request.operation == "variation" and spec.variations_endpoint:
        return "/images/variations"
    if request.operation == "generate" and not request.input_images:
        return "/images/generations"
    return "/images/edits"


def plan(
    request: ProviderRequest, spec: ModelSpec, images: list[bytes], mask: bytes | None, style: bytes | None
) -> Plan:
    """The request for ``request.operation``, from the input images already read as bytes (Pillow: run in a thread)."""
    op, prompt = request.operation, request.prompt
    path = path_for(request, spec)
    if path == "/images/variations":
        return Plan(path, None, images[:1], notes=["dall-e-2 /images/variations"])
    if path == "/images/generations":
        return Plan(path, prompt)
    result = Plan(path, prompt, list(images))
    if op in ("generate", "edit") and len(images) > (1 if op == "edit" else 0):
        level = request.options.get("consistency")
        if level in CONSISTENCY:
            result.prompt = _join(prompt, CONSISTENCY[level])
            if level == "strict" and spec.input_fidelity:
                result.fields["input_fidelity"] = "high"
            result.notes.append(f"consistency {level}")
    elif op in ("inpaint", "erase"):
        result.mask = _alpha_mask(mask, images[0])
        if op == "erase":
            result.prompt = _join(ERASE, prompt)
    elif op == "outpaint":
        canvas = masks.outpaint_canvas(images[0], masks.checked_expand(request.options.get("expand") or {}))
        result.images = [canvas.image, *images[1:]]
        result.mask = masks.to_alpha_mask(canvas.mask)
        result.prompt = _join(OUTPAINT, prompt)
        result.fields["size"] = spec.size_near(canvas.width, canvas.height)
        result.notes.append(f"outpaint canvas {canvas.width}x{canvas.height} sent as the image, border as the mask")
    elif op == "style_transfer":
        if style is None:
            raise e.BadRequestError("style_transfer needs a style image; nothing was sent", "pass style_image")
        result.images = [images[0], style]
        result.prompt = _join(STYLE, prompt)
    elif op == "variation":
        result.prompt = _join(VARIATION, prompt)
        result.notes.append("variation through /images/edits with an instruction (no variations endpoint)")
    elif op == "remove_background":
        result.prompt = _join(CUT_OUT, prompt)
        result.fields["background"] = "transparent"
        result.fields["output_format"] = request.output_format if request.output_format == "webp" else "png"
    return result


def _alpha_mask(mask: bytes | None, image: bytes) -> bytes:
    if mask is None:
        raise e.BadRequestError("inpaint and erase need a mask; nothing was sent", "pass mask (or mask_box)")
    return openai_mask(mask, image_size(image))


def openai_mask(mask: bytes, size: tuple[int, int]) -> bytes:
    """Our mask (white = change, or a PNG whose transparent pixels mark it) as OpenAI's, at the image's size."""
    return masks.to_alpha_mask(masks.normalize_mask(mask, *size))


def image_size(data: bytes) -> tuple[int, int]:
    from imagegen_mcp.imaging.codec import inspect

    facts = inspect(data, what="the input image", fix="pass a PNG, JPEG or WebP")
    return facts.width, facts.height


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
