"""style-conflict (mutually exclusive media, shot scales, times of day, colour regimes) and binding-risk.

Odd *content* ("a horse riding an astronaut") is not a style conflict; only the lexicon groups in
``style_conflict`` are compared, and only the group pairs listed in ``style_conflicts``. Artwork shown as
an object ("a photo of a watercolor painting"), explicit blends ("mixed media", "X meets Y") and realist
painting ("photorealistic … painting", 写实风格油画) are excluded.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from . import lexicon as lx
from .base import Ctx, Signals, hint, shorten
from .doc import Doc
from .models import Lang, LintHint
from .rules_basic import wordset

_NEXT_WORD = re.compile(r"[\s\-]*([A-Za-z]+)")
_CLAUSE_END = re.compile(r"\s*(?:[,.;:!?)]|$)")
_ZH_PAINT_NOUN = re.compile("[画畫]")
_TIDY = re.compile(r"\s{2,}|\s+(?=[,.;])")


@dataclass(frozen=True, slots=True)
class Term:
    start: int
    end: int
    group: str
    lang: Lang


@functools.cache
def _pairs() -> tuple[tuple[str, str], ...]:
    node = lx.load("en")["style_conflicts"]
    out: list[tuple[str, str]] = []
    if isinstance(node, list):
        for pair in node:
            if isinstance(pair, list) and len(pair) == 2:
                out.append((str(pair[0]), str(pair[1])))
    return tuple(out)


def _mono_ok(doc: Doc, start: int, end: int) -> bool:
    """'black and white' is a colour regime only before a regime noun or at the end of a clause."""
    word = doc.masked[start:end].lower()
    if not word.startswith(("black", "b&w")):
        return True
    nxt = _NEXT_WORD.match(doc.masked, end)
    if nxt and nxt.group(1).lower() in wordset("mono_regime_nouns"):
        return True
    return bool(_CLAUSE_END.match(doc.masked, end)) and not re.search(
        r"\b(?:is|are|was|were)\s+$", doc.masked[max(0, start - 12) : start]
    )


def _terms(doc: Doc) -> list[Term]:
    out: list[Term] = []
    mono_not = lx.pattern("zh", "mono_not")
    for lang in ("en", "zh"):
        keys = tuple(f"style_conflict.{g}" for g in lx.groups(lang, "style_conflict"))
        for s, e, owners in lx.scan(doc.masked, lang, keys):
            for owner in sorted(owners):
                group = owner.split(".", 1)[1]
                if group == "mono" and lang == "en" and not _mono_ok(doc, s, e):
                    continue
                if group == "mono" and lang == "zh" and mono_not.match(doc.masked, s):
                    continue
                out.append(Term(s, e, group, "zh" if lang == "zh" else "en"))
    # A longer term of one group may contain a shorter one of another (超写实 vs 写实): keep the longest.
    out.sort(key=lambda t: (t.start, -(t.end - t.start)))
    kept: list[Term] = []
    for t in out:
        if kept and t.start < kept[-1].end:
            continue
        kept.append(t)
    return kept


def _artwork_object(doc: Doc, photo: Term, other: Term) -> bool:
    """ "a photo of a watercolor painting", 挂在墙上的水彩画的照片: the artwork is the subject."""
    masked = doc.masked
    if other.lang == "zh" or photo.lang == "zh":
        if photo.start > other.end and masked[photo.start - 1 : photo.start] == "的":
            return True
        return bool(lx.pattern("zh", "artwork_object_after").search(masked))
    if photo.start > other.start:
        return False
    follow = masked[other.end : other.end + 40]
    m = lx.pattern("en", "artwork_objects").search(follow)
    return bool(m) and len(follow[: m.start()].split()) <= 2  # type: ignore[union-attr]


def _realist_painting(doc: Doc, a: Term, b: Term) -> bool:
    groups = {a.group, b.group}
    if groups != {"photoreal", "paint"}:
        return False
    paint = a if a.group == "paint" else b
    if paint.lang == "zh":
        return bool(_ZH_PAINT_NOUN.search(doc.masked, paint.start, paint.end + 1))
    return bool(lx.pattern("en", "realism_painting").search(doc.masked))


def style_conflict(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``style-conflict``: two mutually exclusive styles, shot scales, times of day or colour regimes."""
    if lx.pattern("en", "style_blend").search(doc.masked) or lx.pattern("zh", "style_blend").search(doc.masked):
        return []
    pointers = [m.span() for lang in ("en", "zh") for m in lx.pattern(lang, "deixis").finditer(doc.masked)]
    terms = [
        t
        for t in _terms(doc)
        if not sig.quiet(t.start, t.end)
        and not (t.group == "photo" and any(a <= t.start and t.end <= b for a, b in pointers))
    ]  # "turn this photo into a watercolor": the photo is the input, not a style
    if len(terms) < 2:
        return []
    by_group: dict[str, list[Term]] = {}
    for t in terms:
        by_group.setdefault(t.group, []).append(t)
    out: list[LintHint] = []
    for ga, gb in _pairs():
        if ga not in by_group or gb not in by_group:
            continue
        a, b = by_group[ga][0], by_group[gb][0]
        if "photo" in (ga, gb):
            photo, other = (a, b) if ga == "photo" else (b, a)
            if _artwork_object(doc, photo, other):
                continue
        if _realist_painting(doc, a, b):
            continue
        first, second = sorted((a, b), key=lambda t: t.start)
        between = doc.masked[first.end : second.start]
        if lx.pattern("en", "style_intended").search(between) or lx.pattern("zh", "style_intended").search(between):
            continue  # "an oil painting in the style of pixel art": a deliberate mix
        wa, wb = doc.text[first.start : first.end], doc.text[second.start : second.end]
        keep_a = _TIDY.sub(" ", doc.rewrite([(second.start, second.end, "")])).strip()
        keep_b = _TIDY.sub(" ", doc.rewrite([(first.start, first.end, "")])).strip()
        zh = second.lang == "zh"
        fix = (
            f"二选一：「{shorten(keep_a, 60)}」或「{shorten(keep_b, 60)}」；若有意混搭，请写明“混合媒介”。"
            if zh
            else f'Pick one: "{shorten(keep_a, 70)}" or "{shorten(keep_b, 70)}"; '
            f'for a deliberate mix say so ("mixed media", "{wa} meets {wb}").'
        )
        out.append(
            hint(
                doc,
                "style-conflict",
                "warning",
                f'"{wa}" and "{wb}" pull in different directions; the model will pick one or blend them unpredictably.',
                fix,
                (second.start, second.end),
                lang=second.lang,
                ambiguity=True,
                evidence=f"{wa} / {wb}",
            )
        )
    return out


@functools.cache
def _attribute_re() -> re.Pattern[str]:
    return re.compile(
        f"(?:{lx.alternation('en', lx.terms('en', 'colours') + lx.terms('en', 'materials'))})$", re.IGNORECASE
    )


def binding_risk(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``binding-risk``: two or more objects, each with its own colour or material (attributes may swap)."""
    pairs: list[tuple[int, int, str, str]] = []
    skip = lx.anchored("en", "binding_not_before", "start")
    attribute = _attribute_re()
    function = wordset("function_words")
    for key in ("colours", "materials"):
        for m in lx.pattern("en", key).finditer(doc.masked):
            nxt = _NEXT_WORD.match(doc.masked, m.end())
            if not nxt or skip.match(doc.masked, m.end()) or skip.match(doc.masked, nxt.start(1)):
                continue
            noun = nxt.group(1).lower()
            if noun in function or attribute.match(noun):
                continue  # "a blue metallic sphere" is one object; "a glass of" is not a material
            pairs.append((m.start(), nxt.end(1), m.group(0).lower(), noun))
        for m in lx.pattern("zh", key).finditer(doc.masked):
            tail = doc.masked[m.end() : m.end() + 4].lstrip("的")
            pairs.append((m.start(), m.end() + 3, m.group(0), tail[:2]))
    attrs = {p[2] for p in pairs}
    nouns = {p[3] for p in pairs}
    if len(attrs) < 2 or len(nouns) < 2:
        return []
    pairs.sort()
    shown = [doc.text[s:e].strip() for s, e, _, _ in pairs[:4]]
    zh = doc.han_chars > doc.en_words
    return [
        hint(
            doc,
            "binding-risk",
            "info",
            f"Several objects with their own colour or material ({', '.join(shown)}); models sometimes swap them.",
            "给每个物体单独一句，例如“立方体是红色的。旁边的球体是蓝色的。”"
            if zh
            else 'Give each object its own clause, e.g. "The cube is red. Next to it, the sphere is blue."',
            (pairs[0][0], pairs[0][1]),
            lang="zh" if zh else "en",
        )
    ]
