"""Tool argument types shared by ``generate_image`` and ``enqueue_images``.

One definition per argument (type, bounds, description) so the two tools describe the same option
in the same words, and their schemas cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from imagegen_mcp.models import (
    AspectRatio,
    Background,
    BaselineSourceKind,
    Consistency,
    ImageSize,
    OutputFormat,
    ProviderName,
    ProviderPreferences,
    ReturnImage,
    Surface,
    VariationStrength,
)
from imagegen_mcp.surface.styles import StyleArg

PROMPT_TEXT = "What to draw; quote any text to render"
Prompt = Annotated[str, Field(min_length=1, max_length=32000, description=PROMPT_TEXT)]
# edit_image / upscale_image: the same words (tools/list says them once), but optional where a mode allows.
OptionalPrompt = Annotated[str | None, Field(max_length=32000, description=PROMPT_TEXT)]
Model = Annotated[str | None, Field(description="Model id")]
Size = Annotated[ImageSize | None, Field(description="≈1K / 2K / 4K")]
Aspect = Annotated[AspectRatio | None, Field()]  # the enum says it all
SurfaceArg = Annotated[Surface, Field(description="OpenRouter API to use")]
ProviderArg = Annotated[
    ProviderName | None,
    Field(description="Pin a provider (no fallback); placeholder is offline"),
]
Preferences = Annotated[
    ProviderPreferences | None,
    Field(description="Routing: preferred[] and blocked[] provider names, weights{name: number}"),
]
ClarifyHints = Annotated[bool, Field(description="Return prompt hints")]
StrictClarify = Annotated[bool, Field(description="Refuse an ambiguous prompt")]
AllowNoBaseline = Annotated[bool, Field(description="Even if the prompt reads as an edit")]

BaselineImage = Annotated[
    str | None,
    Field(
        max_length=4096,
        description="Image to vary: path (needs confirm_external_upload), https URL or imagegen:// uri",
    ),
]
BaselineKind = Annotated[
    BaselineSourceKind,
    Field(),  # provenance only; the enum says it all
]
ConfirmUpload = Annotated[
    bool,
    Field(description="Allow uploading local files"),
]
Variation = Annotated[
    VariationStrength | None,
    Field(description="How far to stray from baseline (default low)"),
]
MustKeep = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]],
    Field(max_length=20, description="Keep these exactly, e.g. 'the logo'"),
]
LockPalette = Annotated[bool | None, Field(description="Keep colours (default true)")]
LockComposition = Annotated[bool | None, Field(description="Keep framing (default true)")]

MaxCost = Annotated[
    float | None, Field(ge=0, le=1000, description="USD cap: refuse (nothing sent) if the estimate is higher")
]
Style = StyleArg  # the look presets (surface/styles.py), for every tool that makes an image

# Shared by generate_image, edit_image and upscale_image: identical definitions, so tools/list says them once.
N = Annotated[int, Field(ge=1, le=4, description="Images (each billed)")]
Out = Annotated[str | None, Field(max_length=1024, description="Path in the output dir; trailing / = directory")]
Overwrite = Annotated[bool, Field(description="Replace an existing file")]
ReturnImageArg = Annotated[ReturnImage, Field(description="none: links only, no preview")]
DryRun = Annotated[bool, Field(description="Check, lint and estimate only; nothing sent")]
IMAGE_FORMS = "Path, https URL or imagegen:// uri"
ImageRef = Annotated[str, Field(min_length=1, max_length=4096, description=IMAGE_FORMS)]
StyleImage = Annotated[str | None, Field(max_length=4096, description="Style source image")]
References = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=4096)]] | None,
    Field(max_length=8, description="Used in order"),
]
ConsistencyArg = Annotated[Consistency | None, Field()]  # the enum says it all
BackgroundArg = Annotated[Background | None, Field()]  # transparent: a real alpha channel, or refused
OutputFormatArg = Annotated[OutputFormat | None, Field()]
NegativePrompt = Annotated[str | None, Field(max_length=4000, description="What to avoid")]
Seed = Annotated[int | None, Field(description="Reuse")]  # bounds checked by GenerateOptions
