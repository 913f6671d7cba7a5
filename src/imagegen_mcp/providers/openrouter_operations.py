"""How each operation becomes an OpenRouter request: an instruction plus input images, on either surface.

OpenRouter's image models take a prompt and input images — chat as ``image_url`` content parts after
the text, the Image API as ``input_references`` — and nothing else: no mask, no strength, no style
image as such. So every edit is an *edit by instruction*, and each argument is mapped as follows
(the README's operation table says the same):

=====================  ===========================================================================================
``generate``           the prompt; references (``input_images``) in order, ``consistency`` as a sentence on how
                       closely to follow them (the same sentences as the openai provider)
``edit``               the image, then any references; the prompt is the instruction; ``strength`` becomes a
                       sentence: < 0.34 "only subtle changes", < 0.67 "clear changes, same composition", else
                       "change it substantially"
``inpaint``            the image, then a **mask overlay** (the image with the area to change painted magenta),
                       and an instruction to change only that area. A model may still touch other pixels, so
                       the answer is **composited**: outside the mask every pixel is the original's (when the
                       answer kept the image's shape; otherwise it is returned as made, and the metadata says so)
``erase``              the same overlay and compositing, with "remove what is in the marked area and fill it with
                       the surrounding background"
``style_transfer``     the content image, then the style image, with the style instruction
``variation``          the image with "make a variation of this image" (+ the prompt); ``n`` as usual
``remove_background``  the image with the cut-out instruction and ``background: transparent``, only on a model
                       that makes a real alpha channel (see :func:`makes_transparency`)
``outpaint``           not offered: a chat model cannot be held to a canvas (openai, local and placeholder do it)
``upscale``            not offered: OpenRouter has no upscaler
=====================  ===========================================================================================

``negative_prompt`` becomes a closing sentence "Avoid: …" on every operation. ``background`` and
``output_format`` go to models that take them (Image API: listed in the model's ``supported_parameters``;
chat: OpenAI's image models, whose ``image_config`` passes them through); any other model's image is
re-encoded here to the asked ``output_format``, and ``background: transparent`` needs a model that makes
transparency (:func:`makes_transparency`) — Gemini, FLUX and Seedream paint an opaque picture.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import masks
from imagegen_mcp.imaging.codec import sniff
from imagegen_mcp.providers.base import Operation, ProviderImage, ProviderRequest
from imagegen_mcp.providers.openai_operations import CONSISTENCY, CUT_OUT, STYLE, VARIATION

BASE = frozenset({"n", "image_size", "aspect_ratio", "surface", "negative_prompt", "background", "output_format"})
ARGUMENTS: Mapping[Operation, frozenset[str]] = {
    "generate": BASE | {"input_images", "consistency"},
    "edit": BASE | {"input_images", "strength", "consistency"},
    "inpaint": (BASE - {"aspect_ratio"}) | {"input_images", "mask"},
    "erase": (BASE - {"aspect_ratio"}) | {"input_images", "mask"},
    "style_transfer": BASE | {"input_images", "style_image"},
    "variation": BASE | {"input_images"},
    "remove_background": frozenset({"n", "surface", "input_images", "background", "output_format"}),
}

MAGENTA = (255, 0, 255)
INPAINT = (
    "The second image is the first with the area to change painted magenta. Change only that area of the first "
    "image, blending it seamlessly with the rest, and keep everything outside it exactly as it is. Return the "
    "whole first image, with no magenta left. In the marked area:"
)
ERASE = (
    "The second image is the first with an area painted magenta. Remove what is in that area of the first "
    "image and fill it with the surrounding background, matching its texture, light and perspective, so "
    "nothing shows that anything was there; keep everything else exactly as it is. Return the whole first "
    "image, with no magenta left."
)
STRENGTH = (
    (0.34, "Make only small, subtle changes; keep the rest of the image as it is."),
    (0.67, "Make clear changes where asked, keeping the overall composition."),
    (1.01, "Feel free to change the image substantially."),
)


@dataclass
class Plan:
    """One OpenRouter request: the instruction, the input images in order, and what to do with the answer."""

    prompt: str
    images: list[str]  # data or https URLs, in order
    background: str | None = None
    output_format: str | None = None
    aspect_ratio: str | None = None  # inpaint/erase: the image's own shape, so the answer can be composited
    notes: list[str] = field(default_factory=list)  # how the operation was mapped (result metadata)
    keep: tuple[bytes, bytes] | None = None  # (original image, mask): pixels outside the mask are restored


def plan(request: ProviderRequest, image: bytes | None = None, mask: bytes | None = None) -> Plan:
    """The request for ``request.operation``. ``image`` and ``mask`` (bytes) are needed for inpaint and erase
    only (the overlay and the compositing are drawn here: Pillow, so run it in a thread)."""
    op, prompt, images = request.operation, request.prompt, list(request.input_images)
    if op != "generate" and not images:
        raise e.BadRequestError(f"{op} needs an input image; nothing was sent", "pass the image to work on")
    result = Plan(prompt, images, request.background, request.output_format, request.aspect_ratio)
    level = request.options.get("consistency")
    if op in ("generate", "edit") and level in CONSISTENCY and len(images) > (op == "edit"):
        result.prompt = join(prompt, CONSISTENCY[level])
        result.notes.append(f"consistency {level} as an instruction")
    if op == "edit" and isinstance(request.options.get("strength"), int | float):
        strength = float(request.options["strength"])
        sentence = next(text for limit, text in STRENGTH if strength < limit)
        result.prompt = join(result.prompt, sentence)
        result.notes.append(f"strength {strength:g} as an instruction")
    elif op in ("inpaint", "erase"):
        if image is None or mask is None:
            raise e.BadRequestError(f"{op} needs an image and a mask; nothing was sent", "pass mask (or mask_box)")
        size = _size(image)
        mask = masks.normalize_mask(mask, *size)
        result.images = [images[0], data_url(overlay(image, mask)), *images[1:]]
        result.prompt = join(INPAINT, prompt) if op == "inpaint" else join(ERASE, prompt)
        result.keep = (image, mask)
        result.aspect_ratio = shape_of(*size)
        result.notes.append("mask sent as a magenta overlay image; the answer is composited onto the original")
    elif op == "style_transfer":
        style = request.options.get("style_image")
        if not isinstance(style, str):
            raise e.BadRequestError("style_transfer needs a style image; nothing was sent", "pass style_image")
        result.images = [images[0], style]
        result.prompt = join(STYLE, prompt)
    elif op == "variation":
        result.images = images[:1]
        result.prompt = join(VARIATION, prompt)
    elif op == "remove_background":
        if request.background == "opaque":
            raise e.BadRequestError(
                "remove_background makes a transparent background, and background='opaque' asks for the opposite; "
                "nothing was sent",
                "drop background (or use mode='edit' to put the subject on a plain colour)",
            )
        result.images = images[:1]
        result.prompt = join(CUT_OUT, prompt)
        result.background = "transparent"
        result.output_format = "webp" if request.output_format == "webp" else "png"
    if request.negative_prompt:
        result.prompt = join(result.prompt, f"Avoid: {request.negative_prompt.strip().rstrip('.')}.")
        result.notes.append("negative_prompt as an 'Avoid:' sentence")
    if result.background == "transparent" and result.output_format == "jpeg":
        raise e.BadRequestError(
            "background='transparent' needs an image format with an alpha channel, and jpeg has none; nothing was sent",
            "use output_format='png' or 'webp' with a transparent background",
        )
    return result


def makes_transparency(model: str, surface: str, supported: Mapping[str, Any] | None) -> bool:
    """Whether ``model`` on ``surface`` returns a real alpha channel for ``background: transparent``.

    Image API: the model's ``supported_parameters`` list ``background`` with ``transparent`` among its
    values (OpenAI's gpt-image family today); without the catalogue, ``openai/gpt-image*`` only.
    Chat: OpenAI's image models (``openai/gpt-5-image…``), whose ``image_config`` passes ``background``
    through. Gemini, FLUX, Seedream and the rest have no transparency (they may paint a checkerboard).
    """
    if surface == "chat":
        return model.startswith("openai/")
    if supported is None:
        return model.startswith("openai/gpt-image")
    background = supported.get("background")
    values = background.get("values") if isinstance(background, Mapping) else None
    return isinstance(values, list) and "transparent" in values


def takes(model: str, surface: str, supported: Mapping[str, Any] | None, name: str) -> bool:
    """Whether ``model`` takes the parameter ``name`` (``background``, ``output_format``) on ``surface``."""
    if surface == "chat" or supported is None:
        return model.startswith("openai/")
    return name in supported


def finish(images: list[ProviderImage], plan_: Plan, *, recode: str | None) -> tuple[list[ProviderImage], list[str]]:
    """The answer's images after compositing (inpaint, erase) and re-encoding to ``recode`` (Pillow: thread)."""
    notes: list[str] = []
    out: list[ProviderImage] = []
    for image in images:
        data = image.data
        if plan_.keep is not None:
            composited = composite(data, *plan_.keep)
            if composited is None:
                notes.append("not composited: the model changed the image's shape")
            else:
                data = composited
        if recode is not None and sniff(data) != f"image/{recode}":
            data = encode(_open(data), recode)
            notes.append(f"re-encoded to {recode} here (the model does not take output_format)")
        out.append(image if data is image.data else ProviderImage(data, sniff(data)))
    return out, sorted(set(notes))


def overlay(image: bytes, mask: bytes) -> bytes:
    """The image with the mask's white area painted solid magenta: the mask as a chat model can see it."""
    from PIL import Image

    picture = _open(image).convert("RGB")
    with Image.open(io.BytesIO(mask)) as opened:
        grey = opened.convert("L")
    picture.paste(Image.new("RGB", picture.size, MAGENTA), (0, 0), grey.point(lambda v: 255 if v >= 128 else 0))
    return encode(picture, "png")


def composite(answer: bytes, original: bytes, mask: bytes) -> bytes | None:
    """The answer inside the mask, the original outside it, at the original's size; None when the answer's
    shape differs by more than 2 % (stretching it would distort the picture)."""
    from PIL import Image

    made, base = _open(answer), _open(original)
    if abs(made.width / made.height - base.width / base.height) > 0.02 * base.width / base.height:
        return None
    with Image.open(io.BytesIO(mask)) as opened:
        grey = opened.convert("L").point(lambda v: 255 if v >= 128 else 0)
    mode = "RGBA" if "A" in made.mode or "A" in base.mode else "RGB"
    made = made.convert(mode).resize(base.size, Image.Resampling.LANCZOS)
    return encode(Image.composite(made, base.convert(mode), grey), "png")


def encode(im: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        im.convert("RGB").save(buf, "JPEG", quality=92)
    elif fmt == "webp":
        im.save(buf, "WEBP", quality=92)
    else:
        im.save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    import base64

    return f"data:{sniff(data)};base64,{base64.b64encode(data).decode('ascii')}"


RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def shape_of(width: int, height: int) -> str | None:
    """The aspect ratio both surfaces take that matches ``width`` x ``height`` within 2 %, else None."""
    ratio = width / height
    best = min(RATIOS, key=lambda r: abs(_ratio(r) - ratio))
    return best if abs(_ratio(best) - ratio) <= 0.02 * ratio else None


def _ratio(name: str) -> float:
    w, _, h = name.partition(":")
    return float(w) / float(h)


def join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _open(data: bytes) -> Any:
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _size(data: bytes) -> tuple[int, int]:
    from imagegen_mcp.imaging.codec import inspect

    facts = inspect(data, what="the input image", fix="pass a PNG, JPEG or WebP")
    return facts.width, facts.height
