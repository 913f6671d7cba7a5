"""The model catalogue: which image models exist, and the per-family rules the request checks use.

Families carry the documented limits (providers.md §1): GPT image (`gpt`), `dall-e-2`, `dall-e-3`;
`any_size` marks gpt-image-2's free `WxH` sizes. The list is configurable (`OpenAIEmulator(models=...)`),
the rules are not.
"""

from __future__ import annotations

from dataclasses import dataclass

GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
DALLE2_SIZES = ("256x256", "512x512", "1024x1024")
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
GPT_QUALITIES = ("low", "medium", "high", "auto")
PROMPT_LIMITS = {"gpt": 32000, "dall-e-2": 1000, "dall-e-3": 4000}
FAMILIES = frozenset(PROMPT_LIMITS)

# Parameters only GPT image models know, and only DALL·E models know; the other family gets 400 `unknown_parameter`.
GPT_ONLY = frozenset(
    {"background", "output_format", "output_compression", "moderation", "stream", "partial_images", "input_fidelity"}
)
DALLE_ONLY = frozenset({"response_format", "style"})


@dataclass(frozen=True)
class ModelSpec:
    """One model as `GET /models` lists it, plus the family whose rules apply to it.

    `retired=True` keeps it listed but answers 404 `model_not_found` (a model past its shutdown date);
    `chat=True` marks a non-image model (only listed by an unfiltered gateway `/models`)."""

    id: str
    family: str = "gpt"
    created: int = 1_745_000_000
    owned_by: str = "system"
    shutdown_date: str | None = None
    retired: bool = False
    any_size: bool = False
    input_fidelity: bool = True
    chat: bool = False
    transparency: bool = True  # background=transparent works (gpt-image-2: 400 since OpenAI turned it off)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES and not self.chat:
            raise ValueError(f"unknown family {self.family!r}; expected one of {sorted(FAMILIES)}")

    @property
    def is_gpt(self) -> bool:
        return self.family == "gpt"

    @property
    def sizes(self) -> tuple[str, ...]:
        return {"gpt": GPT_SIZES, "dall-e-2": DALLE2_SIZES, "dall-e-3": DALLE3_SIZES}[self.family]

    @property
    def qualities(self) -> tuple[str, ...]:
        return {"gpt": GPT_QUALITIES, "dall-e-2": ("standard",), "dall-e-3": ("standard", "hd")}[self.family]

    @property
    def max_n(self) -> int:
        return 1 if self.family == "dall-e-3" else 10

    @property
    def prompt_limit(self) -> int:
        return PROMPT_LIMITS[self.family]

    def listing(self) -> dict[str, object]:
        """The `GET /models` item: `shutdown_date` only when the model has one."""
        item: dict[str, object] = {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by}
        if self.shutdown_date:
            item["shutdown_date"] = self.shutdown_date
        return item


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("gpt-image-1", shutdown_date="2026-10-23"),
    ModelSpec("gpt-image-1-mini", shutdown_date="2026-12-01", input_fidelity=False),
    ModelSpec("gpt-image-1.5", shutdown_date="2026-12-01"),
    ModelSpec("chatgpt-image-latest", shutdown_date="2026-12-01"),
    ModelSpec("gpt-image-2", any_size=True, input_fidelity=False, transparency=False),
    ModelSpec("gpt-image-2.5-sunburst", any_size=True, input_fidelity=False),
    ModelSpec("gpt-image-2.5-flare", any_size=True, input_fidelity=False),
    ModelSpec("dall-e-2", family="dall-e-2", created=1_698_798_177, shutdown_date="2026-05-12", transparency=False),
    ModelSpec("dall-e-3", family="dall-e-3", created=1_698_785_189, shutdown_date="2026-05-12", transparency=False),
)
"""The image models of §1 (the retired DALL·E models stay usable so their wire shapes can be tested).

gpt-image-2 takes no `input_fidelity` ("omit this parameter", OpenAI's OpenAPI 2.3.0) and no transparent
background (OpenAI ended that preview on 2026-09-30: a 400, third-party reports); the gpt-image-2.5 pair
(in the SDK's model enum) makes transparent backgrounds."""

CHAT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("gpt-4o-mini", chat=True, owned_by="openai"),
    ModelSpec("deepseek-chat", chat=True, owned_by="deepseek"),
    ModelSpec("claude-sonnet-4", chat=True, owned_by="anthropic"),
    ModelSpec("text-embedding-3-small", chat=True, owned_by="openai"),
)
"""What an unfiltered gateway `/models` lists besides the image models, with no image flag."""

DEFAULT_EDIT_MODEL = "gpt-image-1.5"
"""The edits default per the SDK docstring; generations default to dall-e-2 unless a GPT-only param is sent."""
