"""Size and shape of the prompt: empty-prompt, too-short, too-long, keyword-list, quality-boilerplate."""

from __future__ import annotations

import functools
import math
import re
import unicodedata

from . import lexicon as lx
from . import policy
from .base import Ctx, Signals, hint, shorten
from .doc import MASK, Doc
from .models import Lang, LintHint

_HAS_WORD = re.compile(r"[^\W_]")
_EN_WORD = re.compile(f"[{lx.EN_LETTER}]+(?:['’][{lx.EN_LETTER}]+)*")
_SPLIT = re.compile(r"[,，、;；|]")
_ZH_FUNCTION = re.compile("[的在着了是有和与把被将著與]")
_SEP_CLEAN = re.compile(r"(?:\s*[,，、;；]\s*){2,}")


def is_empty(doc: Doc) -> bool:
    """Nothing but whitespace and punctuation (emoji and other symbols count as content)."""
    if _HAS_WORD.search(doc.text):
        return False
    return not any(unicodedata.category(c) in ("So", "Sk", "Sm", "Sc") for c in doc.text)


def empty_prompt(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``empty-prompt``: empty, whitespace or punctuation only."""
    where = (0, len(doc.text)) if doc.text else None
    return [
        hint(
            doc,
            "empty-prompt",
            "error",
            "The prompt is empty: there is nothing for the model to draw.",
            'Describe the image: subject, action, setting, style, e.g. "a tabby cat asleep on a windowsill at dawn".',
            where,
        )
    ]


def content_words(doc: Doc) -> int:
    """English words that are not stop words (quoted text included)."""
    stop = wordset("stopwords")
    return sum(1 for w in _EN_WORD.findall(doc.text) if w.lower() not in stop)


@functools.cache
def wordset(key: str) -> frozenset[str]:
    """An English lexicon list as a lower-case set (for single-word lookups)."""
    return frozenset(t.lower() for t in lx.terms("en", key))


def too_short(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``too-short``: < 3 content words (EN) or < 4 Han characters (ZH); emoji only."""
    if ctx.has_baseline or sig.edit_intent:
        return []  # edit instructions are short by nature
    words = content_words(doc)
    han = doc.han_chars
    if han == 0:
        short = words < 3
    elif words == 0:
        short = han < 4
    else:
        short = words + han / 1.8 < 3
    if not short:
        return []
    stripped = doc.text.strip()
    lang: Lang = "zh" if han and not words else "en"
    if lang == "zh":
        fix = f"写具体：主体、动作、场景、风格、光线，例如「{stripped}，清晨窗台上，柔和的侧光，水彩风格」。"
    else:
        fix = (
            "Say who or what, doing what, where, in what style, e.g. "
            f'"{stripped}, [doing what] in [where], [style], [lighting]".'
        )
    return [
        hint(
            doc,
            "too-short",
            "warning",
            "The prompt is very short; everything it leaves out is up to the model.",
            fix,
            (0, len(doc.text)),
            lang=lang,
            ambiguity=True,
        )
    ]


def too_long(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``too-long``: > 300 words (540 Han); error above the provider's hard cap."""
    out: list[LintHint] = []
    lang: Lang = "zh" if doc.han_chars > doc.en_words else "en"
    cap = policy.hard_cap(ctx.model)
    tokens = math.ceil((len(doc.text) - doc.han_chars) / 4) + doc.han_chars
    where = (0, len(doc.text))
    if cap is not None:
        limit, unit = cap
        size = len(doc.original) if unit == "chars" else tokens
        if size > limit:
            approx = "" if unit == "chars" else " (estimated: latin characters / 4 + Han characters)"
            out.append(
                hint(
                    doc,
                    "too-long",
                    "error",
                    f"The prompt is {size} {unit}{approx}, over this model's limit of {limit} {unit}.",
                    f"Cut it below {limit} {unit}: keep subject, action, setting, style and lighting; drop repetition.",
                    where,
                    lang=lang,
                    evidence=f"{size} {unit}",
                )
            )
            return out
    if policy.clip_limited(ctx.model) and tokens > 77:
        out.append(
            hint(
                doc,
                "too-long",
                "warning",
                f"About {tokens} tokens (estimated); a CLIP text encoder reads 77 tokens per chunk.",
                "Front-load the subject and style; move the rest to a second pass or drop it.",
                where,
                lang=lang,
                evidence=f"~{tokens} tokens",
            )
        )
        return out
    if doc.size_words > 300:
        out.append(
            hint(
                doc,
                "too-long",
                "info",
                f"About {round(doc.size_words)} words: more words do not make a better image; late details get lost.",
                "Keep the essentials (subject, action, setting, style, lighting) in ~80-300 words; iterate instead.",
                where,
                lang=lang,
                evidence=f"~{round(doc.size_words)} words",
            )
        )
    return out


def _tag_like(seg: str) -> bool:
    if lx.HAN_RE.search(seg):
        han = len(lx.HAN_RE.findall(seg))
        return han <= 5 and not _ZH_FUNCTION.search(seg)
    words = _EN_WORD.findall(seg)
    if len(words) > 3:
        return False
    function = wordset("function_words")
    return not any(w.lower() in function for w in words)


def keyword_list(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``keyword-list``: comma-separated tag soup (>= 6 segments, >= 60 % tag-like)."""
    if ctx.family in policy.KEYWORD_LIST_SILENT:
        return []
    segments = [s.strip() for s in _SPLIT.split(doc.masked)]
    segments = [s for s in segments if s and s.strip(MASK + " .。")]
    if len(segments) < 6:
        return []
    tags = [s for s in segments if _tag_like(s)]
    if len(tags) < 0.6 * len(segments):
        return []
    lang: Lang = "zh" if doc.han_chars > doc.en_words else "en"
    if lang == "zh":
        fix = "写成一句完整的描述（主体、动作、场景、风格、光线），例如「一个蓝眼睛的女学生站在樱花树下微笑」。"
    else:
        fix = (
            "Write it as one descriptive sentence (subject, action, setting, style, lighting), e.g. "
            '"A smiling schoolgirl with blue eyes stands under cherry blossoms." Tags: '
            + shorten(", ".join(tags[:8]), 100)
        )
    return [
        hint(
            doc,
            "keyword-list",
            "info",
            f"A list of {len(segments)} comma-separated tags; this model follows described scenes better than tags.",
            fix,
            (0, len(doc.text)),
            lang=lang,
        )
    ]


def quality_boilerplate(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``quality-boilerplate``: masterpiece, best quality, 8k, trending on artstation; 杰作, 最佳质量."""
    if ctx.family in policy.QUALITY_SILENT:
        return []
    found = [m for lang in ("en", "zh") for m in lx.pattern(lang, "quality").finditer(doc.masked)]
    if not found:
        return []
    found.sort(key=lambda m: (m.start(), -m.end()))
    matches: list[re.Match[str]] = []
    for m in found:
        if not matches or m.start() >= matches[-1].end():
            matches.append(m)
    first = matches[0]
    words = list(dict.fromkeys(m.group(0) for m in matches))
    cleaned = doc.rewrite([(m.start(), m.end(), "") for m in matches])
    cleaned = _SEP_CLEAN.sub(lambda m: m.group(0).strip()[:1] + " ", cleaned).strip(" ,，、;；")
    lang: Lang = "zh" if lx.HAN_RE.search(first.group(0)) or doc.han_chars > doc.en_words else "en"
    if lang == "zh":
        fix = f"删掉这些通用质量词，改写具体的媒介、镜头和光线，例如「{shorten(cleaned, 50)}，中画幅胶片拍摄」。"
    else:
        fix = (
            f'Drop the boosters and name the look instead (medium, lens, light), e.g. "{shorten(cleaned, 80)}, '
            'shot on medium-format film with fine grain".'
        )
    return [
        hint(
            doc,
            "quality-boilerplate",
            "info",
            f"Generic quality boosters ({', '.join(words)}) add little; specific descriptions work better.",
            fix,
            (first.start(), first.end()),
            lang=lang,
            evidence=", ".join(words),
        )
    ]
