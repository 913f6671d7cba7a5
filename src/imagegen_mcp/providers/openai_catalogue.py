"""OpenAI image models as data: what each can do, its sizes, limits, prices and shutdown date.

The line-up changes monthly, so it lives in ``providers/data/openai_models.json`` (shipped in the
wheel, read with :mod:`importlib.resources`), not in code; this module only interprets it:

- :meth:`ModelSpec.size_for` — ``aspect_ratio`` → the ``size`` the model takes. Models with fixed
  sizes get the one whose ratio is nearest (GPT image: ``1:1`` → 1024x1024, landscape ratios →
  1536x1024, portrait → 1024x1536; a ratio more than 1.5x off every size is refused, never
  distorted). gpt-image-2 takes any ``WxH`` with edges divisible by 16 and a ratio within 1:3–3:1:
  ``1:1`` is 1024x1024, every other ratio gets a 1536 px long edge (``16:9`` → 1536x864, ``3:2`` →
  1536x1024, ``9:16`` → 864x1536); ratios beyond 3:1 are refused.
- :meth:`ModelSpec.cost` — ``usage`` tokens × per-token prices where they are known, else the
  per-image price for the quality and size the answer reports; None when no price is known.
- :meth:`ModelSpec.live` — past its ``shutdown_date`` a model is dead (unless the live ``/models``
  still lists it: that check is the provider's).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from imagegen_mcp import errors as e
from imagegen_mcp.providers.base import OPERATIONS, Operation

# How far (as a factor) the nearest fixed size's ratio may be from the requested one.
MAX_RATIO_DRIFT = 1.5


@dataclass(frozen=True)
class ModelSpec:
    id: str
    operations: frozenset[Operation]
    parameters: frozenset[str]
    sizes: tuple[str, ...] = ("1024x1024",)
    free_size: Mapping[str, float] | None = None
    quality: Mapping[str, str] = field(default_factory=dict)  # image_size -> quality value
    max_n: int = 1
    max_input_images: int = 0
    prompt_limit: int | None = None
    prices: Mapping[str, Any] | None = None
    shutdown_date: datetime.date | None = None
    transparency: bool = False  # background 'transparent' works (remove_background needs it)
    input_fidelity: bool = False  # takes input_fidelity (consistency 'strict' → high)
    variations_endpoint: bool = False  # /images/variations (dall-e-2); others vary through /images/edits

    @classmethod
    def from_json(cls, model_id: str, data: Mapping[str, Any]) -> ModelSpec:
        operations = frozenset(op for op in data.get("operations", ["generate"]) if op in OPERATIONS)
        shutdown = data.get("shutdown_date")
        return cls(
            id=model_id,
            operations=operations,
            parameters=frozenset(data.get("parameters", [])),
            sizes=tuple(data.get("sizes") or ("1024x1024",)),
            free_size=data.get("free_size"),
            quality=dict(data.get("quality") or {}),
            max_n=int(data.get("max_n", 1)),
            max_input_images=int(data.get("max_input_images", 0)),
            prompt_limit=data.get("prompt_limit"),
            prices=data.get("prices"),
            shutdown_date=datetime.date.fromisoformat(shutdown) if shutdown else None,
            transparency=bool(data.get("transparency", False)),
            input_fidelity=bool(data.get("input_fidelity", False)),
            variations_endpoint=bool(data.get("variations_endpoint", False)),
        )

    def live(self, today: datetime.date) -> bool:
        return self.shutdown_date is None or today < self.shutdown_date

    def renamed(self, model_id: str) -> ModelSpec:
        """This spec under another id (a gateway's model this file does not know)."""
        from dataclasses import replace

        return replace(self, id=model_id)

    # ------------------------------------------------------------------ sizes

    def size_for(self, aspect_ratio: str | None) -> str | None:
        """The ``size`` to send for ``aspect_ratio`` (None: let the API pick); refuses what it cannot honour."""
        if aspect_ratio is None:
            return None
        w, h = (float(x) for x in aspect_ratio.split(":"))
        ratio = w / h
        if self.free_size:
            return self._free(aspect_ratio, ratio)
        best = min(self.sizes, key=lambda s: abs(math.log(_ratio(s) / ratio)))
        if abs(math.log(_ratio(best) / ratio)) > math.log(MAX_RATIO_DRIFT):
            raise e.BadRequestError(
                f"{self.id} cannot make a {aspect_ratio} image (its sizes: {', '.join(self.sizes)}); nothing was sent",
                f"use aspect_ratio {' or '.join(_ratio_name(s) for s in self.sizes)}, or another model",
            )
        return best

    def _free(self, aspect_ratio: str, ratio: float) -> str:
        rules = self.free_size or {}
        max_ratio = float(rules.get("max_ratio", 3.0))
        if not 1 / max_ratio <= ratio <= max_ratio:
            raise e.BadRequestError(
                f"{self.id} takes aspect ratios from 1:{max_ratio:g} to {max_ratio:g}:1, not {aspect_ratio}; "
                "nothing was sent",
                "pick an aspect_ratio within that range (e.g. 21:9 or 16:9)",
            )
        multiple = int(rules.get("multiple", 16))
        if abs(ratio - 1) < 1e-9:
            edge = int(rules.get("square", 1024))
            return f"{edge}x{edge}"
        long_edge = float(rules.get("long_edge", 1536))
        width, height = (long_edge, long_edge / ratio) if ratio > 1 else (long_edge * ratio, long_edge)
        return f"{_snap(width, multiple)}x{_snap(height, multiple)}"

    def size_near(self, width: int, height: int) -> str:
        """The ``size`` closest to a ``width`` x ``height`` canvas (an outpaint): gpt-image-2 takes it rounded to
        its multiple (shrunk to fit its limits); fixed-size models get the size of the nearest ratio."""
        rules = self.free_size
        if not rules:
            return self.size_for(f"{width}:{height}") or self.sizes[0]
        max_ratio = float(rules.get("max_ratio", 3.0))
        if not 1 / max_ratio <= width / height <= max_ratio:
            self._free(f"{width}:{height}", width / height)  # refuses, naming the range
        shrink = min(
            1.0,
            float(rules.get("max_edge", 3840)) / max(width, height),
            math.sqrt(float(rules.get("max_pixels", 8294400)) / (width * height)),
        )
        multiple = int(rules.get("multiple", 16))
        w, h = (int(v * shrink) // multiple * multiple for v in (width, height))
        return f"{max(multiple, w)}x{max(multiple, h)}"

    # ------------------------------------------------------------------ money

    def cost(self, body: Mapping[str, Any], *, quality: str | None, size: str | None, count: int) -> float | None:
        """USD for one answer; None when this model has no known price (never a guess)."""
        prices = self.prices or {}
        usage = body.get("usage")
        per_token = prices.get("per_token")
        if isinstance(usage, Mapping) and isinstance(per_token, Mapping):
            tokens = _tokens(usage)
            if tokens is not None:
                text_in, image_in, out = tokens
                total = (
                    text_in * float(per_token.get("text_input", 0))
                    + image_in * float(per_token.get("image_input", 0))
                    + out * float(per_token.get("image_output", 0))
                )
                return round(total / 1_000_000, 6)
        per_image = prices.get("per_image")
        answered_quality = body.get("quality") if isinstance(body.get("quality"), str) else quality
        answered_size = body.get("size") if isinstance(body.get("size"), str) else size
        if answered_size is None and not self.free_size:
            answered_size = self.sizes[0]  # fixed-size models: the first size listed is the API's default
        if not isinstance(per_image, Mapping) or count <= 0:
            return None
        if answered_quality is None and len(per_image) == 1:
            answered_quality = next(iter(per_image))  # dall-e-2: one quality only
        table = per_image.get(answered_quality or "")
        price = table.get(answered_size or "") if isinstance(table, Mapping) else None
        return round(float(price) * count, 6) if isinstance(price, int | float) else None


@dataclass(frozen=True)
class Catalogue:
    default_model: str
    models: Mapping[str, ModelSpec]
    gateway_default: ModelSpec

    def live_models(self, today: datetime.date) -> list[ModelSpec]:
        return [m for m in self.models.values() if m.live(today)]

    def successor(self, today: datetime.date) -> str:
        """A live model to name in a fix (the default when it is live)."""
        live = self.live_models(today)
        if any(m.id == self.default_model for m in live):
            return self.default_model
        return live[0].id if live else self.default_model

    def arguments(self, specs: list[ModelSpec]) -> dict[Operation, frozenset[str]]:
        """Per operation, the arguments at least one of ``specs`` honours for it (for Capabilities)."""
        found: dict[Operation, set[str]] = {}
        for spec in specs:
            for op in spec.operations:
                found.setdefault(op, set()).update(operation_arguments(spec, op))
        return {op: frozenset(found[op]) for op in OPERATIONS if op in found}


# Arguments that belong to one operation: honoured there (when the model does the operation), nowhere else.
OPERATION_ONLY: Mapping[str, frozenset[str]] = {
    "mask": frozenset({"inpaint", "erase"}),
    "expand": frozenset({"outpaint"}),
    "style_image": frozenset({"style_transfer"}),
    "consistency": frozenset({"generate", "edit"}),
}


def operation_arguments(spec: ModelSpec, operation: Operation) -> frozenset[str]:
    """What ``spec`` honours for ``operation`` (see :mod:`~imagegen_mcp.providers.openai_operations`).

    A baseline or references turn generate into an edit, so generate takes input images only from a
    model that edits; each operation's own argument (mask, expand, style_image) only there; the
    canvas fixes an outpaint's size, so it takes no aspect_ratio; /images/variations takes little.
    """
    if operation not in spec.operations:
        return frozenset()
    args = {a for a in spec.parameters if operation in OPERATION_ONLY.get(a, (operation,))}
    if operation == "outpaint":
        args = (args - {"aspect_ratio"}) | {"expand"}
    elif operation == "style_transfer":
        args.add("style_image")
    if operation == "generate" and "edit" not in spec.operations:
        args -= {"input_images", "consistency"}
    if operation == "variation" and spec.variations_endpoint:
        args &= {"n", "aspect_ratio", "input_images"}
    return frozenset(args)


def parse(text: str) -> Catalogue:
    data = json.loads(text)
    models = {mid: ModelSpec.from_json(mid, spec) for mid, spec in data["models"].items()}
    return Catalogue(data["default_model"], models, ModelSpec.from_json("", data["gateway_default"]))


@cache
def load() -> Catalogue:
    """The shipped catalogue (read once per process)."""
    text = resources.files("imagegen_mcp.providers").joinpath("data/openai_models.json").read_text("utf-8")
    return parse(text)


def looks_like_image_model(model_id: str) -> bool:
    """Id hints for image models in an unfiltered gateway ``/models`` list."""
    lowered = model_id.lower()
    return any(hint in lowered for hint in IMAGE_HINTS)


IMAGE_HINTS = (
    "image", "dall-e", "dalle", "flux", "stable-diffusion", "sdxl", "sd3", "sd-", "imagen", "seedream",
    "midjourney", "mj-", "kolors", "cogview", "wanx", "hidream", "recraft", "ideogram", "playground",
)  # fmt: skip


def _ratio(size: str) -> float:
    w, _, h = size.partition("x")
    return int(w) / int(h)


def _ratio_name(size: str) -> str:
    w, _, h = size.partition("x")
    g = math.gcd(int(w), int(h))
    return f"{int(w) // g}:{int(h) // g}"


def _snap(value: float, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def _tokens(usage: Mapping[str, Any]) -> tuple[int, int, int] | None:
    details = usage.get("input_tokens_details")
    out = usage.get("output_tokens")
    if not isinstance(out, int):
        return None
    if isinstance(details, Mapping):
        text_in = details.get("text_tokens", 0)
        image_in = details.get("image_tokens", 0)
    else:
        text_in, image_in = usage.get("input_tokens", 0), 0
    if not isinstance(text_in, int) or not isinstance(image_in, int):
        return None
    return text_in, image_in, out
