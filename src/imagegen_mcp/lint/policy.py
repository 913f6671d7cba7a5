"""Provider families and the per-family settings where vendors disagree (see docs/lint-rules.md).

``generic`` takes the conservative (Google / BFL) setting.
"""

from __future__ import annotations

from .models import Severity

FAMILIES: tuple[str, ...] = ("gemini", "imagen", "openai", "flux", "midjourney", "stability", "generic")

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("google/gemini", "gemini"),
    ("gemini", "gemini"),
    ("google/imagen", "imagen"),
    ("imagen", "imagen"),
    ("openai/", "openai"),
    ("gpt-image", "openai"),
    ("dall-e", "openai"),
    ("black-forest-labs/", "flux"),
    ("flux", "flux"),
    ("midjourney", "midjourney"),
    ("stability-ai/", "stability"),
    ("stabilityai/", "stability"),
    ("stability/", "stability"),
    ("stable-diffusion", "stability"),
    ("sdxl", "stability"),
    ("sd3", "stability"),
)


def model_family(model: str | None) -> str:
    """Map an OpenRouter (or bare) model id to a provider family; unknown ids map to ``generic``.

    >>> model_family("google/gemini-3.1-flash-image-preview")
    'gemini'
    >>> model_family("openai/gpt-5-image")
    'openai'
    >>> model_family(None)
    'generic'
    """
    if not model:
        return "generic"
    m = model.strip().lower()
    if m.startswith("~"):
        m = m[1:]
    for prefix, family in _PREFIXES:
        if m.startswith(prefix):
            return family
    return "generic"


def resolve_family(family: str | None, model: str | None) -> str:
    """The explicit family override if it is a known family, else the one derived from the model id."""
    if family:
        f = family.strip().lower()
        return f if f in FAMILIES else "generic"
    return model_family(model)


# negative-phrasing: OpenAI's guide asks for explicit exclusions; everyone else says rephrase.
NEGATION_SEVERITY: dict[str, Severity] = {"openai": "info"}
# keyword-list: OpenAI says tag lists work; Stability and Midjourney prompts are often tags by design.
KEYWORD_LIST_SILENT = frozenset({"openai", "stability", "midjourney"})
# quality-boilerplate: Imagen documents quality modifiers as usable.
QUALITY_SILENT = frozenset({"imagen"})
# text-too-long: the 25-character figure is Imagen's; BFL says 1-4 words. Info elsewhere.
TEXT_LONG_WARNING = frozenset({"imagen", "flux"})
# missing-lighting: BFL calls lighting critical.
LIGHTING_WARNING = frozenset({"flux"})
# ALL CAPS after a text cue counts as delimited text only for OpenAI ("in quotes or ALL CAPS").
CAPS_IS_DELIMITED = frozenset({"openai"})
# Prompt languages each family documents (None: not documented, so never hinted).
LANGUAGES: dict[str, frozenset[str] | None] = {
    "gemini": frozenset({"en", "zh"}),
    "imagen": frozenset({"en", "zh"}),
    "openai": frozenset({"en", "zh"}),
    "flux": None,
    "midjourney": frozenset({"en"}),
    "stability": frozenset({"en"}),
    "generic": None,
}


def hard_cap(model: str) -> tuple[int, str] | None:
    """The provider's hard prompt-length cap as ``(limit, unit)``; unit is ``chars`` or ``tokens``."""
    m = model.lower()
    if "gpt-image" in m:
        return (32000, "chars")
    if "dall-e-3" in m:
        return (4000, "chars")
    if "dall-e-2" in m:
        return (1000, "chars")
    if "flux.2" in m or "flux-2" in m:
        return (32000, "tokens")
    if "flux" in m:
        return (512, "tokens")
    return None


def clip_limited(model: str) -> bool:
    """Models whose text encoder is CLIP only (77 tokens per chunk)."""
    m = model.lower()
    return any(k in m for k in ("sdxl", "stable-diffusion-xl", "stable-diffusion-v1", "stable-diffusion-1", "sd1."))
