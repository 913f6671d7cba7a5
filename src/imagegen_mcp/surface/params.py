"""Tool argument types shared by ``generate_image`` and ``enqueue_images``.

One definition per argument (type, bounds, description) so the two tools describe the same option
in the same words, and their schemas cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from imagegen_mcp.models import (
    AspectRatio,
    BaselineSourceKind,
    ImageSize,
    ProviderName,
    ProviderPreferences,
    Surface,
    VariationStrength,
)

Prompt = Annotated[str, Field(min_length=1, max_length=32000, description="What to draw. Quote any text to render.")]
Model = Annotated[str | None, Field(description="OpenRouter model id; default from IMAGEGEN_MODEL")]
Size = Annotated[ImageSize | None, Field(description="low | medium | high (≈1K / 2K / 4K where the model supports it)")]
Aspect = Annotated[AspectRatio | None, Field(description="e.g. 1:1, 16:9, 9:16")]
SurfaceArg = Annotated[
    Surface, Field(description="auto (learnt per model), images (Image API) or chat (chat completions)")
]
ProviderArg = Annotated[
    ProviderName | None,
    Field(description="Pin one provider (no fallback); placeholder draws offline. Default: IMAGEGEN_PROVIDER or auto"),
]
Preferences = Annotated[
    ProviderPreferences | None,
    Field(description="Routing for this call: preferred[] first, weights{}, blocked[]; merged over the server's"),
]
ClarifyHints = Annotated[bool, Field(description="Return prompt-clarity hints")]
StrictClarify = Annotated[bool, Field(description="Refuse (nothing sent or queued) when the prompt is ambiguous")]
AllowNoBaseline = Annotated[bool, Field(description="Generate from scratch even if the prompt reads like an edit")]

BaselineImage = Annotated[
    str | None,
    Field(
        max_length=4096,
        description="Image to edit or vary: a local file path (needs confirm_external_upload=true), an https URL, "
        "or an imagegen://images/ uri from an earlier result. Sent to the provider.",
    ),
]
BaselineKind = Annotated[
    BaselineSourceKind,
    Field(description="Where the baseline came from (recorded for provenance)"),
]
ConfirmUpload = Annotated[
    bool,
    Field(description="Allow a local baseline file to be uploaded to the provider (images made here are exempt)"),
]
Variation = Annotated[
    VariationStrength | None,
    Field(description="How far a baseline edit may stray: low (default with a baseline), medium, high"),
]
MustKeep = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]],
    Field(max_length=20, description="Things a baseline edit must keep exactly (e.g. 'the logo', 'the face')"),
]
LockPalette = Annotated[bool | None, Field(description="Keep the baseline's colours (default true with a baseline)")]
LockComposition = Annotated[
    bool | None, Field(description="Keep the baseline's framing and layout (default true with a baseline)")
]
