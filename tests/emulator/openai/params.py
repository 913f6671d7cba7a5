"""Request checks shared by generations, edits and variations: one `Job` out, or an `ApiError`.

The order follows what a client most needs to hear first: unknown parameters, then the model, then each
value against that model's family (providers.md §1 table). Gateways ignore unknown parameters and accept
`response_format` for every model, as the lenient third-party gateways do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import errors
from .catalogue import DALLE_ONLY, DEFAULT_EDIT_MODEL, GPT_ONLY, ModelSpec
from .errors import ApiError
from .state import EmulatorState

COMMON = frozenset({"model", "n", "size", "response_format", "user"})
ALLOWED = {
    "generations": COMMON | GPT_ONLY - {"input_fidelity"} | {"prompt", "quality", "style"},
    "edits": COMMON | GPT_ONLY | {"prompt", "quality", "image", "image[]", "mask"},
    "variations": COMMON | {"image"},
}
MAX_GPT2_PIXELS = 3840 * 2160


@dataclass(frozen=True)
class Job:
    """A validated request: what to render and how to answer."""

    endpoint: str
    spec: ModelSpec
    prompt: str
    n: int
    width: int
    height: int
    quality: str
    background: str
    output_format: str
    compression: int
    response_format: str
    input_fidelity: str | None = None

    @property
    def size_label(self) -> str:
        return f"{self.width}x{self.height}"


def _int(params: dict[str, Any], name: str, default: int) -> int:
    """JSON ints, or the decimal strings multipart forms carry."""
    value = params.get(name, default)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.invalid(f"Invalid type for '{name}': expected an integer, but got {type(value).__name__}.", name)
    return value


def _choice(params: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise errors.bad_value(name, value, allowed)
    return str(value)


def _pick_model(params: dict[str, Any], endpoint: str, state: EmulatorState) -> ModelSpec:
    model = params.get("model")
    if model is None:
        if endpoint == "edits":
            model = DEFAULT_EDIT_MODEL
        elif endpoint == "generations" and GPT_ONLY & set(params):
            model = "gpt-image-1"
        else:
            model = "dall-e-2"
    if not isinstance(model, str) or not model:
        raise errors.invalid("Invalid type for 'model': expected a string.", "model")
    with state.cond:
        spec = state.models.get(model)
    if spec is None or spec.retired:
        raise errors.model_not_found(model)
    if spec.chat:
        raise errors.invalid(f"Invalid value for 'model': {model} is not an image model.", "model")
    if endpoint == "variations" and spec.family != "dall-e-2":
        raise errors.invalid("Invalid value for 'model': only dall-e-2 supports image variations.", "model")
    if endpoint == "edits" and spec.family == "dall-e-3":
        raise errors.invalid("Invalid value for 'model': dall-e-3 does not support image edits.", "model")
    return spec


def _size(params: dict[str, Any], spec: ModelSpec, auto: tuple[int, int]) -> tuple[int, int]:
    size = params.get("size", "auto" if spec.is_gpt else "1024x1024")
    if size == "auto" and spec.is_gpt:
        return auto
    if isinstance(size, str) and spec.any_size:
        w, sep, h = size.partition("x")
        if sep and w.isdigit() and h.isdigit():
            width, height = int(w), int(h)
            ok = width % 16 == 0 and height % 16 == 0 and width > 0 and height > 0
            ok = (
                ok and 1 / 3 <= width / height <= 3 and width * height <= MAX_GPT2_PIXELS and max(width, height) <= 3840
            )
            if ok:
                return width, height
        raise errors.invalid(
            f"Invalid value: {size!r} for 'size'. {spec.id} takes 'auto' or WIDTHxHEIGHT with both edges divisible "
            "by 16, an aspect ratio between 1:3 and 3:1, and at most 3840x2160 pixels.",
            "size",
        )
    if size not in spec.sizes:
        raise errors.bad_value("size", size, spec.sizes)
    w, _, h = str(size).partition("x")
    return int(w), int(h)


def check(
    params: dict[str, Any], endpoint: str, state: EmulatorState, *, auto_size: tuple[int, int] = (1024, 1024)
) -> Job:
    """Validate `params` (JSON values, or form strings) for `endpoint`; raise `ApiError` on the first problem."""
    with state.cond:
        gateway, prompt_limit = state.gateway, state.prompt_limit
    if not gateway:
        for name in params:
            if name not in ALLOWED[endpoint]:
                raise errors.unknown_parameter(name)
    spec = _pick_model(params, endpoint, state)
    if not gateway:
        foreign = (DALLE_ONLY if spec.is_gpt else GPT_ONLY) & set(params)
        if foreign:
            raise errors.unknown_parameter(sorted(foreign)[0])
    if "style" in params and spec.family != "dall-e-3" and not gateway:
        raise errors.invalid("Invalid value for 'style': style is only supported for dall-e-3.", "style")

    prompt = params.get("prompt", "")
    if endpoint != "variations":
        if not isinstance(prompt, str) or not prompt:
            raise errors.missing_parameter("prompt")
        limit = prompt_limit if prompt_limit is not None else spec.prompt_limit
        if len(prompt) > limit:
            raise errors.invalid(
                f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but got a "
                f"string with length {len(prompt)} instead.",
                "prompt",
                "string_above_max_length",
            )

    n = _int(params, "n", 1)
    if not 1 <= n <= 10:
        raise errors.invalid(f"Invalid 'n': expected a value between 1 and 10, but got {n} instead.", "n")
    if n > spec.max_n:
        raise errors.invalid(f"Invalid 'n': {spec.id} only supports n=1.", "n")

    width, height = _size(params, spec, auto_size)
    quality = _choice(params, "quality", spec.qualities, "auto" if spec.is_gpt else "standard")
    background = _choice(params, "background", ("transparent", "opaque", "auto"), "auto")
    output_format = _choice(params, "output_format", ("png", "jpeg", "webp"), "png")
    if background == "transparent" and output_format == "jpeg":
        raise errors.invalid(
            "Invalid value for 'background': a transparent background needs output_format 'png' or 'webp', not 'jpeg'.",
            "background",
        )
    if background == "transparent" and not spec.transparency:
        raise errors.invalid("Transparent background is not supported for this model.", "background")
    compression = _int(params, "output_compression", 100)
    if not 0 <= compression <= 100:
        raise errors.invalid(
            f"Invalid 'output_compression': expected 0-100, but got {compression}.", "output_compression"
        )
    _choice(params, "moderation", ("low", "auto"), "auto")
    _choice(params, "style", ("vivid", "natural"), "vivid")
    default_format = "url" if gateway or not spec.is_gpt else "b64_json"
    response_format = _choice(params, "response_format", ("url", "b64_json"), default_format)
    if _truthy(params.get("stream")):
        raise errors.invalid("stream=true is not emulated; this emulator answers with JSON only.", "stream")
    partial = _int(params, "partial_images", 0)
    if not 0 <= partial <= 3:
        raise errors.invalid(f"Invalid 'partial_images': expected 0-3, but got {partial}.", "partial_images")
    fidelity = None
    if "input_fidelity" in params:
        fidelity = _choice(params, "input_fidelity", ("high", "low"), "low")
        if not spec.input_fidelity:
            raise errors.invalid(f"Invalid value for 'input_fidelity': not supported by {spec.id}.", "input_fidelity")
    return Job(
        endpoint=endpoint,
        spec=spec,
        prompt=prompt if isinstance(prompt, str) else "",
        n=n,
        width=width,
        height=height,
        quality="high" if quality == "auto" else quality,
        background="transparent" if background == "transparent" else "opaque",
        output_format=output_format if spec.is_gpt else "png",
        compression=compression,
        response_format=response_format,
        input_fidelity=fidelity,
    )


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


__all__ = ["ApiError", "Job", "check"]
