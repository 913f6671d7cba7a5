"""Edit rails: keep a change as small as the user asked, as explicit prompt constraints.

Models follow plain instructions best (Google's and OpenAI's edit guides both say: "change only X,
keep everything else the same"), so each rail becomes one fixed sentence appended to the prompt.
The text is deterministic — the same rails always give the same words in the same order — so a
drifting edit can be debugged from the receipt, and ``rails_applied`` lists which rails were used.

With a baseline (and for ``edit_image`` mode ``edit``), the defaults are low variation with palette
and composition locked, unless the caller sets them. The other edit modes and upscale get only the
rails the caller sets (``defaults=False``): a variation, an outpaint or a cut-out must not be told
"make the smallest change" or "keep the framing" unasked. Without an image there is nothing to
keep, and no rails are added.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegen_mcp.models import VariationStrength

VARIATION_TEXT = {
    "low": "Make the smallest change that satisfies the request; everything not mentioned stays exactly as it is.",
    "medium": "Moderate changes are fine where the request calls for them; keep the subject recognisable.",
    "high": "Feel free to reinterpret the image boldly while keeping its subject.",
}


@dataclass(frozen=True)
class Rails:
    variation_strength: VariationStrength | None = None
    must_keep: tuple[str, ...] = ()
    lock_palette: bool | None = None
    lock_composition: bool | None = None

    def resolved(self, has_baseline: bool, defaults: bool = True) -> Rails:
        """Fill the defaults: with a baseline, low variation and both locks on (only what was set without defaults)."""
        if not has_baseline:
            return Rails()
        return Rails(
            variation_strength=self.variation_strength or ("low" if defaults else None),
            must_keep=tuple(dict.fromkeys(k.strip() for k in self.must_keep if k.strip())),
            lock_palette=defaults if self.lock_palette is None else self.lock_palette,
            lock_composition=defaults if self.lock_composition is None else self.lock_composition,
        )


def apply_rails(prompt: str, rails: Rails, has_baseline: bool, defaults: bool = True) -> tuple[str, list[str]]:
    """The prompt with the rail sentences appended, and the ids of the rails applied."""
    if not has_baseline:
        return prompt, []
    r = rails.resolved(True, defaults)
    if not (r.variation_strength or r.must_keep or r.lock_palette or r.lock_composition):
        return prompt, []
    sentences = ["Use the provided image as the starting point and change only what is asked above."]
    applied: list[str] = []
    if r.variation_strength:
        sentences.append(VARIATION_TEXT[r.variation_strength])
        applied.append(f"variation:{r.variation_strength}")
    if r.must_keep:
        sentences.append("Keep these exactly as they are: " + "; ".join(r.must_keep) + ".")
        applied.extend(f"must_keep:{k}" for k in r.must_keep)
    if r.lock_palette:
        sentences.append("Keep the colour palette unchanged.")
        applied.append("lock_palette")
    if r.lock_composition:
        sentences.append("Keep the composition, framing and camera angle unchanged.")
        applied.append("lock_composition")
    return "\n\n".join(p for p in (prompt.rstrip(), " ".join(sentences)) if p), applied
