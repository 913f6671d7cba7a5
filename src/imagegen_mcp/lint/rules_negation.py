"""negative-phrasing: "no X" / "without X" / 不要, 没有 … in the prompt.

Most families render a negated object anyway (or ignore the negation); OpenAI asks for explicit
exclusions, so it is only info there. Quoted text and guessed unquoted text are skipped.
"""

from __future__ import annotations

import functools
import re

from . import lexicon as lx
from . import policy
from .base import Ctx, Signals, hint, shorten
from .doc import MASK, Doc
from .models import Lang, LintHint, Severity

_EN_NOUN = re.compile(
    r"\s*(?:(?:any|a|an|the|its|their|his|her|visible|extra|other|more|real|single)\s+)*"
    r"((?:[A-Za-z][\w'’\-]*)(?:\s+(?!(?:on|in|at|with|and|or|but|to|of|for|from|next|near|that|which|is|are|into|onto|the|a|an|its|their|his|her|because|while|when|as|by|over|under)\b)[A-Za-z][\w'’\-]*){0,2})",
    re.IGNORECASE,
)
_ZH_NOUN = re.compile(r"\s*(?:任何|一个|一個|一点|一點)?([^，,。.！!？?；;：:\s的]{1,6})")


@functools.cache
def _skip_pattern(lang: str) -> re.Pattern[str]:
    return lx.pattern(lang, "negation_skip")


def _rewrite(lang: str, noun: str) -> str | None:
    rewrites = lx.mapping(lang, "negation_rewrites")
    if lang == "en":
        words = noun.lower().split()
        for k in range(len(words), 0, -1):
            for i in range(len(words) - k + 1):
                key = " ".join(words[i : i + k])
                value = rewrites.get(key)
                if isinstance(value, str):
                    return value
        return None
    for key in sorted(rewrites, key=lambda k: (-len(k), k)):
        value = rewrites[key]
        if key in noun and isinstance(value, str):
            return value
    return None


def _fix(doc: Doc, ctx: Ctx, lang: Lang, phrase: str, noun: str, where: tuple[int, int] | None = None) -> str:
    fam = ctx.family
    if lang == "zh":
        if fam == "midjourney":
            return f"删掉「{phrase}」，在末尾用参数 --no {noun}。"
        if fam in ("stability", "imagen"):
            return f"删掉「{phrase}」，把「{noun}」写进 negative_prompt 字段。"
        if fam == "openai":
            return f"这个模型能理解明确的排除；保持简短明确，例如「不要{noun}」。"
        better = _rewrite("zh", noun)
        if better and where is not None:
            return f"改成正面描述：「{shorten(doc.rewrite([(where[0], where[1], better)]), 80)}」。"
        return f"改成正面描述画面里有什么（空的、干净的、素色的），而不是「{phrase}」。"
    if fam == "midjourney":
        return f'Remove "{phrase}" and append the parameter --no {noun}.'
    if fam in ("stability", "imagen"):
        return f'Remove "{phrase}" and put "{noun}" (plain nouns) in the negative_prompt field.'
    if fam == "openai":
        return f'OpenAI models follow explicit exclusions: keep it short and explicit, e.g. "no {noun}".'
    better = _rewrite("en", noun)
    if better and where is not None:
        return f'Describe what is there instead: "{shorten(doc.rewrite([(where[0], where[1], better)]), 160)}".'
    return (
        f'Rephrase positively: describe the scene as it should look ("empty", "bare", "plain", "blank") '
        f'instead of "{shorten(phrase, 60)}"; if the absence is the point, name it positively '
        "(a blank clock face, not a clock with no hands)."
    )


def negative_phrasing(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``negative-phrasing``: no / not / without / don't / avoid; 不要, 没有, 避免, 无+noun (never a bare 无)."""
    severity: Severity = policy.NEGATION_SEVERITY.get(ctx.family, "warning")
    masked = doc.masked
    out: list[LintHint] = []
    for lang in ("en", "zh"):
        skips = [m.span() for m in _skip_pattern(lang).finditer(masked)]
        for m in lx.pattern(lang, "negation").finditer(masked):
            s, e = m.span()
            if any(a <= s < b for a, b in skips) or sig.quiet(s, e):
                continue
            word = m.group(0)
            if lang == "zh" and word[:1] in "无無":
                noun_m = None  # 无人, 无水印: the noun is part of the match
            else:
                noun_m = (_EN_NOUN if lang == "en" else _ZH_NOUN).match(masked, e)
            noun = noun_m.group(1) if noun_m else ""
            if MASK in noun:
                noun = ""
            end = noun_m.end(1) if noun_m and noun else e
            if lang == "zh" and not noun and word[:1] in "无無":
                noun = word[1:]
            phrase = masked[s:end]
            out.append(
                hint(
                    doc,
                    "negative-phrasing",
                    severity,
                    (
                        f'"{shorten(phrase, 60)}": many image models draw what the prompt names, even after "{word}".'
                        if severity != "info"
                        else f'"{shorten(phrase, 60)}": explicit exclusion (this model follows them; keep it short).'
                    ),
                    _fix(doc, ctx, "zh" if lang == "zh" else "en", phrase, noun or word, (s, end)),
                    (s, end),
                    lang="zh" if lang == "zh" else "en",
                )
            )
    return out
