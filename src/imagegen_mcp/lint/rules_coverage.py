"""What the prompt covers: missing-subject, the missing-* element hints, vague-term."""

from __future__ import annotations

import re

from . import lexicon as lx
from . import policy
from .base import Ctx, Signals, hint
from .doc import Doc
from .models import Lang, LintHint, Severity
from .rules_basic import wordset

FAMILIES: tuple[str, ...] = ("style", "setting", "composition", "lighting", "mood")
_SUPPRESSIBLE = frozenset({"setting", "lighting", "mood"})
_NOT_SUBJECT: tuple[str, ...] = ("style", "composition", "lighting_technique", "mood", "technical", "quality", "vague")
_EN_WORD = re.compile(f"[{lx.EN_LETTER}]+(?:['’][{lx.EN_LETTER}]+)*")
_STARTS_SENTENCE = re.compile(r"(?:^|[.!?;:\n。！？]\s*|[\"“‘'(]\s*)$")

_FIX_EN: dict[str, str] = {
    "style": 'Name a medium or style, e.g. "watercolor", "35mm film photo", "flat vector illustration".',
    "setting": 'Say where it happens, e.g. "in a snowy forest", "on a marble countertop", "against a plain backdrop".',
    "composition": 'Add framing, e.g. "close-up", "wide shot", "low angle", "centered with negative space".',
    "lighting": 'Add lighting, e.g. "golden-hour backlight", "soft window light", "neon glow at night".',
    "mood": 'Add the mood, e.g. "serene", "tense", "playful", "melancholic".',
}
_FIX_ZH: dict[str, str] = {
    "style": "写明媒介或风格，例如「水彩」「胶片摄影」「扁平矢量插画」。",
    "setting": "写明场景，例如「雪林中」「大理石台面上」「纯色影棚背景前」。",
    "composition": "写明构图，例如「特写」「远景」「低角度仰拍」「居中留白」。",
    "lighting": "写明光线，例如「黄金时刻逆光」「柔和的窗光」「夜晚霓虹光」。",
    "mood": "写明氛围，例如「宁静」「紧张」「俏皮」「忧郁」。",
}


_VOCAB: tuple[str, ...] = (*FAMILIES, "lighting_technique", "technical", "quality", "vague")


def _scan(doc: Doc) -> list[tuple[int, int, frozenset[str]]]:
    cached = doc.notes.get("vocab")
    if isinstance(cached, list):
        return cached
    found = lx.scan(doc.masked, "en", _VOCAB) + lx.scan(doc.masked, "zh", _VOCAB)
    doc.notes["vocab"] = found
    return found


def has_subject(doc: Doc) -> bool:
    """Something is left after removing style, quality, technical and other lexicon terms."""
    if doc.literals:
        return True
    not_subject = frozenset(_NOT_SUBJECT)
    parts: list[str] = []
    pos = 0
    for s, e, owners in sorted(_scan(doc)):
        if owners & not_subject and s >= pos:
            parts.append(doc.masked[pos:s])
            pos = e
    parts.append(doc.masked[pos:])
    rest = " ".join(parts)
    stop = wordset("stopwords")
    for w in _EN_WORD.findall(rest):
        if w.lower() in stop:
            continue
        if len(w) >= 3 or (len(w) == 2 and (w.isupper() or any(c.isdigit() for c in w))) or w.isdigit():
            return True  # a word, an acronym (TV, F1) or a number ("42")
    stop_chars = lx.text("zh", "stop_chars")
    han = [c for c in lx.HAN_RE.findall(rest) if c not in stop_chars]
    # Two Han characters make a noun; a one-character prompt (猫) is its own subject.
    return len(han) >= 2 or (len(han) == 1 and doc.han_chars <= 2)


def missing_subject(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``missing-subject``: only style / quality / technical terms, nothing to depict."""
    if sig.coverage.get("subject", True):
        return []
    zh = doc.han_chars > doc.en_words
    fix = (
        f"先写主体：画什么、在做什么，例如「[主体，如：悬崖上的灯塔]，{doc.text.strip()}」。"
        if zh
        else f'Start with the subject: what is shown, doing what, e.g. "[a lighthouse on a cliff], {doc.text.strip()}".'
    )
    return [
        hint(
            doc,
            "missing-subject",
            "warning",
            "No subject: the prompt lists only style, quality or technical terms.",
            fix,
            (0, len(doc.text)),
            lang="zh" if zh else "en",
            ambiguity=True,
        )
    ]


def compute_coverage(doc: Doc, sig: Signals) -> None:
    """Fill ``sig.coverage`` (subject plus the five element families)."""
    seen: set[str] = set()
    for _, _, owners in _scan(doc):
        seen |= owners
    cov = {"subject": has_subject(doc)}
    for fam in FAMILIES:
        cov[fam] = fam in seen
    sig.coverage = cov


def missing_elements(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``missing-style`` / ``-setting`` / ``-composition`` / ``-lighting`` / ``-mood`` (info)."""
    if ctx.has_baseline or sig.edit_intent:
        return []  # an edit keeps the image's own style, setting and light
    suppressed = bool(lx.pattern("en", "coverage_suppress", True).search(doc.masked)) or bool(
        lx.pattern("zh", "coverage_suppress").search(doc.masked)
    )
    zh = doc.han_chars > doc.en_words
    out: list[LintHint] = []
    for fam in FAMILIES:
        if sig.coverage.get(fam, True) or (suppressed and fam in _SUPPRESSIBLE):
            continue
        severity: Severity = "warning" if fam == "lighting" and ctx.family in policy.LIGHTING_WARNING else "info"
        out.append(
            hint(
                doc,
                f"missing-{fam}",
                severity,
                f"No {fam} given; the model will pick one.",
                _FIX_ZH[fam] if zh else _FIX_EN[fam],
                None,
                lang="zh" if zh else "en",
            )
        )
    return out


def vague_term(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``vague-term``: empty evaluatives (beautiful, 好看) and "make it better"."""
    specific = sum(1 for fam in FAMILIES if sig.coverage.get(fam)) >= 2
    out: list[LintHint] = []
    seen: list[tuple[int, int]] = []
    for lang, key in (("en", "vague_phrases"), ("zh", "vague_phrases"), ("en", "vague"), ("zh", "vague")):
        phrase = key == "vague_phrases"
        if specific and not phrase:
            continue
        for m in lx.pattern(lang, key).finditer(doc.masked):
            s, e = m.span()
            if any(a < e and s < b for a, b in seen) or sig.quiet(s, e):
                continue
            word = m.group(0)
            if lang == "en" and word[:1].isupper() and not _STARTS_SENTENCE.search(doc.masked[:s]):
                continue  # "Nice" the city, "Pretty Woman"
            seen.append((s, e))
            out.append(_vague_hint(doc, s, e, word, "zh" if lang == "zh" else "en"))
    return out


def _vague_hint(doc: Doc, s: int, e: int, word: str, lang: Lang) -> LintHint:
    if lang == "zh":
        fix = f"把「{word}」换成具体的视觉描述：材质、颜色、光线、构图，例如「晨雾中的峡湾，水面如镜」。"
    elif "better" in word.lower() or "improve" in word.lower():
        fix = 'Say what should change and how, e.g. "raise the contrast and warm the highlights; keep the composition".'
    else:
        fix = (
            f'Replace "{word}" with what makes it so (light, colour, material, detail), e.g. '
            '"a fjord at dawn with mist over mirror-still water".'
        )
    return hint(
        doc,
        "vague-term",
        "info",
        f'"{word}" is an empty evaluative: it tells the model nothing it can draw.',
        fix,
        (s, e),
        lang=lang,
        ambiguity=True,
    )
