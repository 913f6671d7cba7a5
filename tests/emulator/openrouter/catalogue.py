"""The emulator's model catalogue and the JSON the discovery endpoints build from it.

One `ModelSpec` per model decides everything the routes need: which surface serves it (`on_images_api`
for `POST /images`, `on_chat` for `POST /chat/completions`), what it outputs (which decides the chat
`modalities` it accepts), whether it returns several images, streams partials, and what it costs.
The split is deliberate: Gemini models are chat-only and absent from `/images/models`, so a client
has to learn the surface from discovery instead of hard-coding it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_CREATED = 1767225600  # 2026-01-01, fixed so bodies are stable between runs


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry. `supported_parameters` uses the Image API descriptor form."""

    id: str
    on_images_api: bool
    on_chat: bool
    output_modalities: tuple[str, ...] = ("image",)
    multi_image: bool = False
    supports_streaming: bool = False
    supported_parameters: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    provider: str = "Google AI Studio"
    price_per_image: float = 0.04
    image_tokens: int = 1290
    input_modalities: tuple[str, ...] = ("text", "image")

    @property
    def author(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def display_name(self) -> str:
        return self.name or self.id.split("/", 1)[-1]

    @property
    def provider_slug(self) -> str:
        return self.provider.split()[0].lower()


_RES_1K_4K = {"type": "enum", "values": ["1K", "2K", "4K"]}
_ASPECTS = {"type": "enum", "values": ["1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "auto"]}

DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="google/gemini-3.1-flash-image-preview",
        name="Google: Nano Banana 2 (Gemini 3.1 Flash Image Preview)",
        on_images_api=False,
        on_chat=True,
        output_modalities=("image", "text"),
        price_per_image=0.0672,
    ),
    ModelSpec(
        id="google/gemini-2.5-flash-image",
        name="Google: Gemini 2.5 Flash Image (Nano Banana)",
        on_images_api=False,
        on_chat=True,
        output_modalities=("image", "text"),
        price_per_image=0.0387,
    ),
    ModelSpec(
        id="openai/gpt-image-1",
        name="OpenAI: GPT Image 1",
        on_images_api=True,
        on_chat=False,
        multi_image=True,
        supports_streaming=True,
        provider="OpenAI",
        price_per_image=0.04,
        image_tokens=4160,
        supported_parameters={
            "quality": {"type": "enum", "values": ["auto", "low", "medium", "high"]},
            "background": {"type": "enum", "values": ["auto", "transparent", "opaque"]},
            "output_format": {"type": "enum", "values": ["png", "jpeg", "webp"]},
            "output_compression": {"type": "range", "min": 0, "max": 100},
            "aspect_ratio": {"type": "enum", "values": ["1:1", "2:3", "3:2", "auto"]},
        },
    ),
    ModelSpec(
        id="bytedance-seed/seedream-4.5",
        name="Seedream 4.5",
        on_images_api=True,
        on_chat=True,
        provider="Bytedance",
        price_per_image=0.05,
        image_tokens=4096,
        supported_parameters={
            "resolution": _RES_1K_4K,
            "seed": {"type": "boolean"},
            "aspect_ratio": _ASPECTS,
        },
    ),
    ModelSpec(
        id="black-forest-labs/flux.2-pro",
        name="Black Forest Labs: FLUX.2 Pro",
        on_images_api=True,
        on_chat=True,
        provider="Black Forest Labs",
        price_per_image=0.03,
        image_tokens=4096,
        supported_parameters={
            "resolution": _RES_1K_4K,
            "seed": {"type": "boolean"},
            "aspect_ratio": _ASPECTS,
        },
    ),
    ModelSpec(
        id="openai/gpt-5-image-mini",
        name="OpenAI: GPT-5 Image Mini",
        on_images_api=False,
        on_chat=True,
        output_modalities=("image", "text"),
        provider="OpenAI",
        price_per_image=0.02,
        image_tokens=1056,
    ),
    ModelSpec(
        id="openai/gpt-4o-mini",
        name="OpenAI: GPT-4o-mini",
        on_images_api=False,
        on_chat=True,
        output_modalities=("text",),
        provider="OpenAI",
        price_per_image=0.0,
        image_tokens=0,
    ),
)


def _modality(spec: ModelSpec) -> str:
    return "+".join(spec.input_modalities) + "->" + "+".join(spec.output_modalities)


def models_entry(spec: ModelSpec) -> dict[str, Any]:
    """A `/models` item (`Model` schema): chat-style catalogue, parameters as a list of names."""
    image_out = "image" in spec.output_modalities
    params = ["max_tokens", "temperature", "top_p", "seed", "response_format", "structured_outputs"]
    return {
        "id": spec.id,
        "canonical_slug": spec.id,
        "hugging_face_id": None,
        "name": spec.display_name,
        "created": _CREATED,
        "description": f"{spec.display_name} (emulated).",
        "context_length": 32768,
        "architecture": {
            "modality": _modality(spec),
            "input_modalities": list(spec.input_modalities),
            "output_modalities": list(spec.output_modalities),
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": "0.0000003",
            "completion": "0.0000025",
            "request": "0",
            "image": "0.0000003",
            "image_output": "0.00003" if image_out else "0",
            "web_search": "0",
            "internal_reasoning": "0",
            "input_cache_read": "0",
        },
        "top_provider": {"context_length": 32768, "max_completion_tokens": 8192, "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": None,
        "supported_voices": None,
        "knowledge_cutoff": None,
        "expiration_date": None,
        "links": {"details": f"/api/v1/models/{spec.id}/endpoints"},
    }


def images_models_entry(spec: ModelSpec) -> dict[str, Any]:
    """An `/images/models` item (`ImageModelListItem`): capability descriptors, streaming flag."""
    return {
        "id": spec.id,
        "name": spec.display_name,
        "description": f"{spec.display_name} (emulated).",
        "created": _CREATED,
        "architecture": {
            "input_modalities": list(spec.input_modalities),
            "output_modalities": list(spec.output_modalities),
        },
        "supported_parameters": dict(spec.supported_parameters),
        "supports_streaming": spec.supports_streaming,
        "endpoints": f"/api/v1/images/models/{spec.id}/endpoints",
    }


def images_endpoints_body(spec: ModelSpec) -> dict[str, Any]:
    """`/images/models/{a}/{s}/endpoints`: one provider endpoint with a per-image price."""
    return {
        "id": spec.id,
        "endpoints": [
            {
                "provider_name": spec.provider,
                "provider_slug": spec.provider_slug,
                "provider_tag": spec.provider_slug,
                "supported_parameters": dict(spec.supported_parameters),
                "allowed_passthrough_parameters": [],
                "supports_streaming": spec.supports_streaming,
                "pricing": [{"billable": "output_image", "unit": "image", "cost_usd": spec.price_per_image}],
            }
        ],
    }


def filter_by_output(models: list[ModelSpec], output_modalities: str | None) -> list[ModelSpec]:
    """`/models?output_modalities=`: default `text` (hides image-only models), `all`, or a comma list."""
    wanted = (output_modalities or "text").strip().lower()
    if wanted == "all":
        return list(models)
    names = {w.strip() for w in wanted.split(",") if w.strip()}
    return [m for m in models if names & set(m.output_modalities)]
