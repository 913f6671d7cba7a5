"""The inputs of one operation, checked, read and prepared: the pipeline's "input rails" step.

Every operation (``generate``, the ``edit_image`` modes, ``upscale``) comes through :func:`prepare`,
which the one pipeline (:func:`imagegen_mcp.pipeline.generate`) calls before routing. It:

1. refuses arguments that do not belong to the operation (``mask`` outside inpaint/erase, ``expand``
   outside outpaint, …) and missing ones (inpaint without ``mask``/``mask_box``, a mode that needs a
   prompt without one) — naming the argument, before anything is read or sent;
2. puts every input image (``image``, ``mask``, ``style_image``, ``references[]``, the v1
   ``baseline_image``) under the same rails (:func:`imaging.inputs.resolve_baseline`: consent, regular
   files only, allowed roots, size and pixel caps, sniffing; ``imagegen://`` uris; ``https`` URLs);
3. prepares the pixels: the mask in this server's form at the image's size (:mod:`imaging.masks`; a
   mask of the image's shape but another size is resized, any other size refused), ``expand`` from a
   target ``aspect_ratio``, and the expected output size for dry runs and checks.

The ``image`` of an edit or upscale given as an ``https`` URL is fetched once here with the safe
downloader (https only, size-capped, sniffed) — its size is needed for masks, canvases and output
sizes — and sent as data. References and style images given as URLs pass through to the provider.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from imagegen_mcp.errors import ImagegenError, RequestError, redact
from imagegen_mcp.imaging import codec, masks
from imagegen_mcp.imaging.inputs import Baseline, fit_for_provider, resolve_baseline
from imagegen_mcp.lint.rails import Rails, apply_rails
from imagegen_mcp.models import AspectRatio, AttemptRecord, GenerateOptions, Hint, Operation, SavedImage
from imagegen_mcp.providers.base import Attempt

if TYPE_CHECKING:
    from imagegen_mcp.pipeline import Services

Loader = Callable[..., Awaitable[Baseline]]

EDIT_MODES: tuple[Operation, ...] = (
    "edit", "inpaint", "outpaint", "erase", "style_transfer", "variation", "remove_background"
)  # fmt: skip
# What the prompt is for, where a mode cannot do without one.
PROMPT_NEEDED = {
    "generate": "what to draw",
    "edit": "the change to make",
    "inpaint": "what goes in the masked area",
}
MASKED = ("inpaint", "erase")
# Where the v1 baseline-edit rails (small change, palette and framing kept) apply by default.
DEFAULT_RAILS = ("generate", "edit")
WITH_REFERENCES = ("generate", "edit")


@dataclass
class Inputs:
    """What the provider request carries besides the prompt, and what a dry run shows."""

    images: tuple[str, ...] = ()  # ProviderRequest.input_images, in order
    mask: str | None = None  # data URL, imaging.masks form
    options: dict[str, Any] = field(default_factory=dict)
    aspect_ratio: AspectRatio | None = None  # None for outpaint: the canvas sets the shape
    input_size: tuple[int, int] | None = None
    output_size: tuple[int, int] | None = None  # expected, where it follows from the input
    image: bytes | None = field(default=None, repr=False)  # the image as sent (mask previews)
    mask_png: bytes | None = field(default=None, repr=False)
    baseline: Baseline | None = None  # the v1 baseline_image, or the edited image
    policies: list[str] = field(default_factory=list)  # what was done to each input (resolution policy)

    def prepared(self) -> dict[str, Any] | None:
        """What a dry run shows: the sizes in and out (and outpaint's expand); None for a plain generate."""
        if self.input_size is None:
            return None
        shown: dict[str, Any] = {"input_size": list(self.input_size), "output_size": list(self.output_size or ())}
        if "expand" in self.options:
            shown["expand"] = self.options["expand"]
        return shown


def check_arguments(request: GenerateOptions) -> None:
    """Refuse arguments that do not belong to the operation, and missing ones. Nothing is read yet."""
    op = request.operation
    editing = op in EDIT_MODES or op == "upscale"

    def refuse(argument: str, where: str) -> RequestError:
        return RequestError(f"{argument} is not used by {op} (only by {where})", f"drop {argument}",
                            code="argument_not_used")  # fmt: skip

    if editing and not request.image:
        raise RequestError(f"{op} needs image", "pass image: a file path, an https URL or an imagegen://images/ uri")
    if not editing and request.image:
        raise refuse("image", "edit_image and upscale_image")
    if editing and request.baseline_image:
        raise refuse("baseline_image", "generate_image; pass the picture as image")
    if op in MASKED:
        if (request.mask is None) == (request.mask_box is None):
            raise RequestError(
                f"{op} needs exactly one of mask or mask_box",
                "pass mask_box [x0, y0, x1, y1] in 0–1 fractions, or pass mask (white = change)",
            )
    elif request.mask is not None or request.mask_box is not None:
        raise refuse("mask" if request.mask is not None else "mask_box", "modes inpaint and erase")
    if op == "outpaint":
        if (request.expand is None) == (request.aspect_ratio is None):
            raise RequestError(
                "outpaint needs exactly one of expand or aspect_ratio",
                'pass expand {"left": 256, "right": 256} (pixels per side) or aspect_ratio such as "16:9"',
            )
    elif request.expand is not None:
        raise refuse("expand", "mode outpaint")
    if op == "style_transfer" and not request.style_image:
        raise RequestError("style_transfer needs style_image", "pass style_image: the picture whose style to use")
    if op != "style_transfer" and request.style_image:
        raise refuse("style_image", "mode style_transfer")
    if request.references and op not in WITH_REFERENCES:
        raise refuse("references", "generate_image and mode edit")
    if request.consistency and not request.references:
        raise RequestError("consistency needs references", "pass references[] (up to 8 images), or drop consistency")
    if op != "upscale" and (request.scale is not None or request.upscale_mode is not None):
        raise refuse("scale" if request.scale is not None else "mode", "upscale_image")
    need = PROMPT_NEEDED.get(op) or ("the picture to imagine" if request.upscale_mode == "creative" else None)
    if need and not request.prompt.strip():
        what = f"mode {request.upscale_mode}" if op == "upscale" else op
        raise RequestError(f"{what} needs a prompt: {need}", "pass prompt", code="prompt_required")
    if request.background == "transparent" and request.output_format == "jpeg":
        raise RequestError("JPEG has no alpha channel, so background=transparent cannot be kept",
                           "use output_format png or webp (or drop output_format)")  # fmt: skip
    if len(request.references) + bool(request.baseline_image) > 8:
        raise RequestError("at most 8 input images in all (references plus baseline_image)", "pass fewer references")


async def prepare(services: Services, request: GenerateOptions) -> Inputs:
    """Check, read and prepare every input of ``request`` (blocking work in threads)."""
    check_arguments(request)
    settings = services.settings
    confirm = request.confirm_external_upload

    async def load(ref: str, argument: str, *, fit: bool = True) -> Baseline:
        call = functools.partial(
            resolve_baseline, ref, output_dir=settings.output_dir, roots=list(settings.workspace),
            max_mb=settings.max_baseline_mb, confirm_external_upload=confirm, registry=services.registry,
            argument=argument, fit=fit,
        )  # fmt: skip
        return await anyio.to_thread.run_sync(call)

    op = request.operation
    inputs = Inputs(aspect_ratio=request.aspect_ratio)
    if op == "generate":
        if request.baseline_image:
            inputs.baseline = await load(request.baseline_image, "baseline_image")
            inputs.images += (inputs.baseline.url,)
            inputs.policies.append(f"baseline_image: {inputs.baseline.resolution_policy}")
    else:
        image = await load(request.image or "", "image")
        if image.data is None:
            image = await _fetched(services, image)
        assert image.data is not None
        inputs.baseline, inputs.image = image, image.data
        inputs.images = (image.url,)
        inputs.policies.append(f"image: {image.resolution_policy}")
        facts = codec.inspect(image.data, what="image", fix="pass a PNG, JPEG or WebP image")
        inputs.input_size = width, height = facts.width, facts.height
        inputs.output_size = (width, height)
        await _prepare_operation(request, inputs, load)
    for i, ref in enumerate(request.references):
        ref_input = await load(ref, f"references[{i}]")
        inputs.images += (ref_input.url,)
        inputs.policies.append(f"references[{i}]: {ref_input.resolution_policy}")
    if request.consistency:
        inputs.options["consistency"] = request.consistency
    if request.strength is not None:
        inputs.options["strength"] = request.strength
    return inputs


def edit_rails(request: GenerateOptions, rails: Rails) -> tuple[str, list[str]]:
    """The prompt with the rail sentences for an operation on an image (see :mod:`imagegen_mcp.lint.rails`)."""
    return apply_rails(request.prompt, rails, True, defaults=request.operation in DEFAULT_RAILS)


async def _prepare_operation(request: GenerateOptions, inputs: Inputs, load: Loader) -> None:
    """The mode's own inputs: mask, canvas growth, style image, upscale settings."""
    op = request.operation
    assert inputs.input_size is not None and inputs.image is not None
    width, height = inputs.input_size
    if op in MASKED:
        if request.mask_box is not None:
            box = list(request.mask_box)
            inputs.mask_png = await anyio.to_thread.run_sync(masks.mask_from_box, width, height, box)
        else:
            raw = await load(request.mask or "", "mask", fit=False)
            assert raw.data is not None
            inputs.mask_png = await anyio.to_thread.run_sync(
                functools.partial(masks.normalize_mask, raw.data, width, height, argument="mask")
            )
        inputs.mask = _data_url(inputs.mask_png)
    elif op == "outpaint":
        if request.expand is not None:
            expand = masks.checked_expand(request.expand)
        else:
            assert request.aspect_ratio is not None
            expand = masks.expand_for_aspect(width, height, request.aspect_ratio)
            if not any(expand.values()):
                raise RequestError(
                    f"the image ({width}x{height}) is already {request.aspect_ratio}: outpainting would add nothing",
                    "pass another aspect_ratio, or expand in pixels",
                    code="invalid_expand",
                )
        grown = (width + expand["left"] + expand["right"], height + expand["up"] + expand["down"])
        if max(grown) > masks.MAX_CANVAS_EDGE:
            raise RequestError(
                f"the outpainted canvas would be {grown[0]}x{grown[1]}, over the {masks.MAX_CANVAS_EDGE} px edge limit",
                "expand by fewer pixels, or upscale after outpainting",
                code="canvas_too_large",
            )
        inputs.options["expand"] = dict(expand)
        inputs.output_size = grown
        inputs.aspect_ratio = None  # the canvas sets the shape; providers are not asked for a ratio
    elif op == "style_transfer":
        style = await load(request.style_image or "", "style_image")
        inputs.options["style_image"] = style.url
        inputs.policies.append(f"style_image: {style.resolution_policy}")
    elif op == "upscale":
        scale = request.scale or 2
        inputs.options["scale"] = scale
        inputs.options["mode"] = request.upscale_mode or "fast"
        inputs.output_size = (width * scale, height * scale)


async def _fetched(services: Services, image: Baseline) -> Baseline:
    """An https ``image`` fetched once (safe downloader: https only, capped, sniffed) and sent as data."""
    from imagegen_mcp.imaging.download import input_bytes

    try:
        fetched = await input_bytes(services.http, image.url, provider="the image URL")
    except ImagegenError as exc:
        raise RequestError(
            f"could not fetch image {image.source}: {exc.message}",
            "pass a reachable https URL, a local file, or an imagegen://images/ uri",
            code="image_unreachable",
        ) from None
    if fetched.mime_type not in ("image/png", "image/jpeg", "image/webp"):
        raise RequestError(f"image {image.source} is not a PNG, JPEG or WebP image", "pass a PNG, JPEG or WebP")
    data, mime, policy = await anyio.to_thread.run_sync(
        functools.partial(fit_for_provider, fetched.data, fetched.mime_type, argument="image")
    )
    return Baseline(
        _data_url(data, mime), image.source, "url", f"fetched from the URL; {policy}", None, len(data), data
    )


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# ----------------------------------------------------------------------------------- transparency
#
# ``background: transparent`` is honoured or refused, never faked: the router only chains providers
# that declare ``background`` (a provider refuses a model without transparency before any request),
# and when none can, the call is refused before anything is sent with the fix — generate, then
# ``edit_image`` mode ``remove_background``. No automatic second step: it would bill a second call the
# user did not ask for. After saving, every image's alpha channel is checked on the saved bytes
# (``transparent``); an image without transparent pixels gets a hint saying what to do.


def wants_alpha(request: GenerateOptions) -> bool:
    return request.background == "transparent" or request.operation == "remove_background"


def explain_refusal(request: GenerateOptions, exc: RequestError) -> RequestError:
    """The router's refusal, with the transparency fix when ``background`` is what no provider honours."""
    if request.background == "transparent" and "background" in exc.message:
        exc.fix = (
            "no configured provider can make a transparent background: drop background (or set it to auto) "
            "and cut the subject out afterwards with edit_image mode=remove_background, or configure a provider "
            "with transparency (run preflight)"
        )
    return exc


def transparency_hints(request: GenerateOptions, saved: list[SavedImage]) -> list[Hint]:
    """A hint for each saved image that should be transparent but whose saved bytes are not."""
    if not wants_alpha(request):
        return []
    return [
        Hint(
            rule="not-transparent",
            severity="warning",
            message=f"{image.path} has no transparent pixels although transparency was asked",
            fix=f"call edit_image with image={image.uri} and mode=remove_background (billed again), "
            "or pin a model with transparency",
        )
        for image in saved
        if image.transparent is False
    ]


# ------------------------------------------------------------------------------------ receipts

MAX_META_TEXT = 500  # longer strings are image data or echoes: elided


def attempt_records(attempts: list[Attempt], metadata: dict[str, Any], secrets: tuple[str, ...]) -> list[AttemptRecord]:
    """The result's ``attempts[]``: the ledger, with the provider's response metadata on the attempt
    that made the images (the last one that succeeded) — image data elided, secrets redacted."""
    records = [AttemptRecord.model_validate(a.to_dict()) for a in attempts]
    winner = next((r for r in reversed(records) if r.ok), None)
    if winner is not None and metadata:
        winner.meta = _elided(metadata, secrets)
    return records


def _elided(value: Any, secrets: tuple[str, ...], depth: int = 0) -> Any:
    if depth > 6:
        return "…"
    if isinstance(value, dict):
        return {str(k): ("<image data elided>" if "b64" in str(k) else _elided(v, secrets, depth + 1))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list | tuple):
        return [_elided(v, secrets, depth + 1) for v in value[:50]]
    if isinstance(value, str):
        text = redact(value, secrets)
        if len(text) > MAX_META_TEXT or text.startswith("data:"):
            return f"<{len(text)} characters elided>"
        return text
    if isinstance(value, bytes):
        return f"<{len(value)} bytes elided>"
    return value if value is None or isinstance(value, bool | int | float) else str(value)
