"""The typed shapes at the edges: requests in, results out.

These pydantic models are the contract of DESIGN.md. Each tool's ``outputSchema`` is generated
from one of the result models here, and the CLI's ``--json`` output is the same model dumped, so
the two can never disagree.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, WithJsonSchema

ImageSize = Literal["low", "medium", "high"]
VariationStrength = Literal["low", "medium", "high"]
BaselineSourceKind = Literal["current_attachment", "reply_attachment", "explicit_path_or_url"]
ReturnImage = Literal["preview", "none"]
Surface = Literal["auto", "images", "chat"]
AspectRatio = Literal[
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "9:21",
    "1:2", "2:1", "1:4", "4:1", "1:8", "8:1", "9:19.5", "19.5:9", "9:20", "20:9",
]  # fmt: skip

# The operation a request performs: generate, an edit_image mode, or upscale (providers/base.py re-exports it).
Operation = Literal[
    "generate", "edit", "inpaint", "outpaint", "erase", "style_transfer", "variation", "remove_background", "upscale"
]  # fmt: skip
EditMode = Literal["edit", "inpaint", "outpaint", "erase", "style_transfer", "variation", "remove_background"]
UpscaleMode = Literal["fast", "conservative", "creative"]
Consistency = Literal["strict", "balanced", "loose"]
Background = Literal["auto", "transparent", "opaque"]
OutputFormat = Literal["png", "jpeg", "webp"]
MAX_REFERENCES = 8

# providers/registry.py, in order
ProviderName = Literal["openrouter", "openai", "compatible", "bfl", "fal", "a1111", "local", "placeholder"]

MAX_IMAGES_PER_CALL = 4


class Hint(BaseModel):
    """One prompt-lint finding as it appears in a result (the full model lives in ``lint``)."""

    rule: str
    severity: Literal["error", "warning", "info"]
    message: str
    fix: str
    span: tuple[int, int] | None = None


class ProviderPreferences(BaseModel):
    """Per-request routing preferences, merged over IMAGEGEN_PREFERRED / _BLOCKED / _WEIGHTS (the request wins)."""

    model_config = ConfigDict(extra="forbid")

    preferred: list[ProviderName] = Field(default_factory=list, max_length=16, description="Try these first, in order")
    weights: dict[ProviderName, Annotated[float, Field(ge=0, le=1000)]] = Field(
        default_factory=dict, description="Weighted-random first pick among the rest; 0 = last resort"
    )
    blocked: list[ProviderName] = Field(default_factory=list, max_length=16, description="Never use these")


class GenerateOptions(BaseModel):
    """Options of every operation (generate, the edit modes, upscale), shared by the tools, the CLI and queued jobs.

    ``prompt`` may be empty only where the operation does without one (see :mod:`imagegen_mcp.operations`).
    """

    model_config = ConfigDict(extra="forbid")

    operation: Operation = "generate"
    prompt: str = Field(default="", max_length=32000)
    model: str | None = Field(default=None, min_length=3, max_length=200)
    image_size: ImageSize | None = None
    aspect_ratio: AspectRatio | None = None
    n: int = Field(default=1, ge=1, le=MAX_IMAGES_PER_CALL)
    surface: Surface = "auto"
    provider: ProviderName | None = None
    provider_preferences: ProviderPreferences | None = None
    # Edits and variants (see imaging/inputs.py and lint/rails.py).
    baseline_image: str | None = Field(default=None, max_length=4096)
    baseline_source_kind: BaselineSourceKind = "explicit_path_or_url"
    confirm_external_upload: bool = False
    variation_strength: VariationStrength | None = None
    must_keep: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=20)
    lock_palette: bool | None = None
    lock_composition: bool | None = None
    # Every operation (imaging/inputs.py rails for each input image; operations.py checks which apply where).
    negative_prompt: str | None = Field(default=None, max_length=4000)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    background: Background | None = None
    output_format: OutputFormat | None = None
    references: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=list, max_length=MAX_REFERENCES
    )
    consistency: Consistency | None = None
    # Edits and upscales.
    image: str | None = Field(default=None, max_length=4096)
    mask: str | None = Field(default=None, max_length=4096)
    mask_box: list[float] | None = Field(default=None, min_length=4, max_length=4)
    expand: dict[str, int] | None = None  # outpaint: pixels per side, checked by imaging.masks.checked_expand
    style_image: str | None = Field(default=None, max_length=4096)
    strength: float | None = Field(default=None, ge=0, le=1)
    scale: Literal[2, 4] | None = None
    upscale_mode: UpscaleMode | None = None
    # Refuse before any request when the estimate is higher (costs.py); None: no per-call cap.
    max_cost_usd: float | None = Field(default=None, ge=0, le=1000)


class GenerateRequest(GenerateOptions):
    """One validated request for the pipeline: the options plus where the files go."""

    out: str | None = Field(default=None, max_length=1024)
    overwrite: bool = False


class ResolvedRequest(BaseModel):
    """What the pipeline would send, after defaults are applied (returned by ``dry_run``)."""

    prompt: str
    model: str
    provider: str
    image_size: ImageSize | None
    aspect_ratio: AspectRatio | None
    n: int
    surface: Surface
    out_dir: str
    out: str | None
    overwrite: bool
    chain: list[str] = Field(default_factory=list, description="provider:model in the order they would be tried")
    # Edits and upscales: input_size and expected output_size [width, height] of the image as it would be
    # sent, and outpaint's expand (pixels per side). One key: the tools/list budget pays per key.
    prepared: dict[str, Any] | None = None
    prompt_sent: str | None = Field(default=None, description="The prompt with edit rails, as it would be sent")


class SavedImage(BaseModel):
    """A full-size file on disk: the provider's bytes, unchanged."""

    path: str = Field(description="Absolute path of the saved file")
    uri: str = Field(description="imagegen://images/{id}: readable with resources/read")
    mime_type: str
    width: int
    height: int
    bytes: int
    sha256: str
    url: str | None = Field(default=None, description="Presigned https link (team shape, when enabled)")
    # Checked on the saved bytes when transparency was asked (background=transparent, remove_background).
    transparent: bool | None = None


class AttemptError(BaseModel):
    code: str
    message: str


class AttemptRecord(BaseModel):
    """One request to one provider (inline retries and fallbacks each count): who, what, how it ended, cost."""

    provider: str
    model: str
    ok: bool
    error: AttemptError | None = None
    cost_usd: float | None = None
    elapsed_s: float
    generation_id: str | None = None
    # The provider's response metadata for the attempt that made the images (ids, status, finish reasons,
    # usage, seeds, how the operation was mapped); image data elided, never a key.
    meta: dict[str, Any] | None = None


class GenerateResult(BaseModel):
    """``structured_content`` of ``generate_image`` and ``imagegen-mcp generate --json``."""

    images: list[SavedImage] = Field(default_factory=list)
    model: str
    provider: str
    upstream_provider: str | None = Field(default=None, description="Who served it behind OpenRouter")
    generation_id: str | None = None
    operation: str = "generate"
    cost_usd: float | None = Field(
        default=None, description="USD billed for the call: every billed attempt (retries, fallbacks) included"
    )
    elapsed_s: float
    hints: list[Hint] = Field(default_factory=list)
    text: str | None = Field(default=None, description="Any text the model returned with the image")
    attempts: list[AttemptRecord] = Field(default_factory=list, description="Every provider attempt, in order")
    partial_error: dict[str, str] | None = Field(
        default=None, description="Set when only some of n images came back: why the rest are missing"
    )
    dry_run: bool = False
    # Dry runs only. Advertised as a plain object: its keys are diagnostics (README), and every key listed in
    # the outputSchema costs every conversation context (tools/list budget, issue 16).
    request: Annotated[ResolvedRequest | None, WithJsonSchema({"type": "object"})] = Field(
        default=None, description="The resolved request (dry runs)"
    )
    estimated_cost_usd: float | None = Field(
        default=None, description="What the call would cost, estimated before it (dry runs and capped calls)"
    )
    # Edit diagnostics: enough to debug a drifting edit from the result or receipt alone.
    edit_intent_detected: bool = False
    baseline_applied: bool = False
    baseline_source: str | None = None
    baseline_source_kind: BaselineSourceKind | None = None
    baseline_resolution_policy: str | None = None
    rails_applied: list[str] = Field(default_factory=list)
    # A dry run of inpaint/erase: the image with the area to change tinted (shown, never in structured content).
    _mask_preview: bytes | None = PrivateAttr(default=None)

    @property
    def mask_preview(self) -> bytes | None:
        return self._mask_preview

    @mask_preview.setter
    def mask_preview(self, png: bytes | None) -> None:
        self._mask_preview = png


class PreflightCheck(BaseModel):
    name: str
    ok: bool
    detail: str
    fix: str | None = None


class ProviderReport(BaseModel):
    """One provider in ``preflight``: configured or not, ready or not, and the fix."""

    name: str
    configured: bool
    ok: bool
    operations: list[str] = Field(default_factory=list)
    default_models: dict[str, str] = Field(default_factory=dict)
    cooldown_s: float | None = Field(default=None, description="Seconds left in a cool-down after repeated failures")
    detail: str
    fix: str | None = None
    checks: list[PreflightCheck] = Field(default_factory=list)


class PreflightReport(BaseModel):
    """``structured_content`` of ``preflight``: a report, not an error, when ``ok`` is false."""

    ok: bool
    checks: list[PreflightCheck]
    providers: list[ProviderReport] = Field(default_factory=list)
    provider: str
    model: str
    output_dir: str
    queue_dir: str
    spend: dict[str, float | None] = Field(
        default_factory=dict, description="today_usd (UTC day), daily_budget_usd, left_usd, max_cost_usd"
    )

    def summary(self) -> str:
        failed = [c.name for c in self.checks if not c.ok]
        if not failed:
            return f"ready: {len(self.checks)} checks passed (provider {self.provider}, model {self.model})"
        return f"not ready: {', '.join(failed)} failed — see each check's fix"


def problems(exc: ValidationError, *, schema: dict[str, Any] | None = None, flags: dict[str, str] | None = None) -> str:
    """Each invalid argument by name, with what is allowed, what was sent and the fix (see :mod:`problems`).

    ``schema`` is what the caller was shown (defaults to :class:`GenerateRequest`'s); ``flags`` maps
    argument names to CLI flags when the caller is the CLI.
    """
    from imagegen_mcp.problems import explain

    return explain(exc, schema=schema if schema is not None else request_schema(), flags=flags)


def request_schema() -> dict[str, Any]:
    return GenerateRequest.model_json_schema()


def dump(model: BaseModel) -> dict[str, Any]:
    """The JSON form used for structured content, receipts and ``--json``."""
    return model.model_dump(mode="json")
