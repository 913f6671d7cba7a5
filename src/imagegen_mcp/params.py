"""Tool argument types shared by ``generate_image`` and ``enqueue_images``.

One definition per argument (type, bounds, description) so the two tools describe the same option
in the same words, and their schemas cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .models import BaselineSourceKind, VariationStrength

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
