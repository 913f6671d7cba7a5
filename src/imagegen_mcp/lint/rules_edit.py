"""Edit intent: edit-needs-baseline and edit-no-preserve.

Evidence levels (prompt-lint.md): *strong* = an edit imperative plus deixis ("this photo", "keep
everything else the same"), or "make it/this …", or "make the X + comparative" (a comparative
presupposes an existing image) → error without a baseline; *medium* = an edit imperative alone, or a
request that points at an image ("a variation of this photo") → warning; *weak* = deixis only
("In this image we can see …") → info, and no edit intent. Chinese findings stay at warning until a
labeled Chinese edit set exists. Imperatives count only at the start of a sentence and, for English,
only with a definite object ("Remove the person", not "Crop circles in a field").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from . import lexicon as lx
from .base import Ctx, Signals, hint
from .doc import Doc
from .models import Lang, LintHint, Severity

_EN_CLAUSE = re.compile(r"(?:^|[.!?;\n]+|,(?=\s*(?:please|pls|now|then|and then|also|just|and)\s))\s*", re.IGNORECASE)
_PRONOUNS = frozenset({"it", "this", "that", "these", "those", "them"})
_ZH_CLAUSE = re.compile(r"(?:^|[.!?;\n。！？；，,、]+)\s*")
_ZH_CLASSIFIER_BA = re.compile(r"[一二两三四五六七八九十几幾]$")
_ZH_JIANG_NOT = re.compile(r"将(?:军|軍|来|來|近|要|会|會)")
_INTO = re.compile(r"\binto\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The strongest edit evidence found."""

    level: int  # 3 strong, 2 medium, 1 weak, 0 none
    where: tuple[int, int] | None
    lang: Lang


@functools.cache
def _en_imperative() -> re.Pattern[str]:
    prefix = lx.alternation("en", lx.terms("en", "edit_imperative_prefix"))
    verbs = lx.alternation("en", lx.terms("en", "edit_verbs"))
    soft = lx.alternation("en", lx.terms("en", "edit_verbs_deixis_only"))
    obj = lx.alternation("en", lx.terms("en", "edit_object"))
    return re.compile(
        rf"(?:(?:{prefix})[\s,]+)*(?:(?P<verb>{verbs})|(?P<soft>{soft}))(?![{lx.EN_LETTER}])\s+(?P<obj>{obj})?",
        re.IGNORECASE,
    )


@functools.cache
def _en_make() -> re.Pattern[str]:
    comparatives = lx.alternation("en", lx.terms("en", "comparatives"))
    return re.compile(
        r"(?:make|get)\s+(?:(?P<pron>it|this|that|these|those|them|everything)\b"
        r"|(?P<np>(?:the|his|her|their|its|my|our|your)\s+[\w'’\-]+(?:\s+[\w'’\-]+)??))"
        rf"\s+(?:look\s+|appear\s+|seem\s+|a\s+(?:bit|little|lot)\s+|much\s+|even\s+|slightly\s+)?(?P<cmp>{comparatives})?",
        re.IGNORECASE,
    )


@functools.cache
def _any_object() -> frozenset[str]:
    return frozenset(" ".join(t.lower().split()) for t in lx.terms("en", "edit_verbs_any_object"))


def _en_clause_starts(masked: str) -> list[int]:
    return [m.end() for m in _EN_CLAUSE.finditer(masked)]


def _zh_clause_starts(masked: str) -> list[int]:
    return [m.end() for m in _ZH_CLAUSE.finditer(masked)]


def _en_deixis(doc: Doc) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """(first deixis, first request-deixis) in English."""
    masked = doc.masked
    not_after = lx.anchored("en", "deixis_not_after", "start")
    plain: tuple[int, int] | None = None
    for m in lx.pattern("en", "deixis").finditer(masked):
        if not_after.match(masked, m.end()):
            continue  # "the image of a cat" is a description, not a pointer
        plain = m.span()
        break
    found = lx.pattern("en", "deixis_request").search(masked)
    request = found.span() if found else None  # "the provided image of my cat" still points at an image
    return plain, request


def _en_evidence(doc: Doc) -> Evidence:
    masked = doc.masked
    comparative_not = lx.anchored("en", "comparative_not", "end")
    plain, request = _en_deixis(doc)
    deixis = request or plain
    best = Evidence(0, None, "en")
    for start in _en_clause_starts(masked):
        m = _en_make().match(masked, start)
        if m:
            cmp = m.group("cmp")
            if cmp and comparative_not.search(cmp):
                cmp = None
            if m.group("pron") or cmp:
                return Evidence(3, m.span(), "en")
            if m.group("np") and deixis:
                return Evidence(3, m.span(), "en")
            if m.group("np"):
                best = max(best, Evidence(2, m.span(), "en"), key=lambda e: e.level)
            continue
        m = _en_imperative().match(masked, start)
        if not m:
            continue
        obj = (m.group("obj") or "").lower()
        pointer = obj in _PRONOUNS
        if m.group("verb"):
            if not obj and m.group("verb").lower() not in _any_object():
                continue  # "Crop circles in a field", "Cut flowers": no definite object, not an imperative
            if deixis or pointer:
                return Evidence(3, m.span(), "en")
            best = max(best, Evidence(2, m.span(), "en"), key=lambda e: e.level)
        elif request or (deixis and pointer):
            return Evidence(3, m.span(), "en")  # "please add a hat" + "the provided image"
        elif (
            obj
            and m.group("soft").lower() in ("turn", "convert", "transform")
            and _INTO.search(masked, m.end(), m.end() + 60)
        ):
            best = max(best, Evidence(3 if deixis else 2, m.span(), "en"), key=lambda e: e.level)
    if best.level:
        return best
    if request:
        return Evidence(2, request, "en")
    if plain:
        return Evidence(1, plain, "en")
    return best


def _zh_evidence(doc: Doc) -> Evidence:
    masked = doc.masked
    deixis: tuple[int, int] | None = None
    not_before = lx.anchored("zh", "deixis_not_before", "end")
    for m in lx.pattern("zh", "deixis").finditer(masked):
        if not_before.search(masked[max(0, m.start() - 3) : m.start()]):
            continue  # 生成这张照片: generation, not an edit
        deixis = m.span()
        break
    preserve = lx.pattern("zh", "preserve").search(masked)
    verb_not = lx.pattern("zh", "edit_verb_not")
    prefix = lx.anchored("zh", "edit_clause_prefix", "start")
    level = 0
    where: tuple[int, int] | None = None
    starts = _zh_clause_starts(masked)
    for start in starts:
        pos = start
        pm = prefix.match(masked, pos)
        while pm and pm.end() > pos:
            pos = pm.end()
            pm = prefix.match(masked, pos)
        vm = lx.pattern("zh", "edit_verbs").match(masked, pos)
        if vm and not verb_not.match(masked, vm.start()):
            level, where = 2, vm.span()
            break
    for m in lx.pattern("zh", "edit_ba_frame").finditer(masked):
        s = m.start()
        if _ZH_CLASSIFIER_BA.search(masked[max(0, s - 1) : s]) or _ZH_JIANG_NOT.match(masked, s):
            continue
        if level < 2:
            level, where = 2, m.span()
        break
    if level == 2 and (deixis or preserve):
        level = 3
    if level == 0 and deixis:
        level, where = 1, deixis
    return Evidence(level, where, "zh")


def edit_evidence(doc: Doc) -> Evidence:
    """The strongest edit evidence in the prompt (English or Chinese)."""
    cached = doc.notes.get("edit")
    if isinstance(cached, Evidence):
        return cached
    en = _en_evidence(doc) if doc.en_words else Evidence(0, None, "en")
    zh = _zh_evidence(doc) if doc.han_chars else Evidence(0, None, "zh")
    ev = en if en.level >= zh.level else zh
    if ev.where is not None:
        s, e = ev.where
        while e > s and doc.masked[e - 1].isspace():
            e -= 1
        ev = Evidence(ev.level, (s, e), ev.lang)
    doc.notes["edit"] = ev
    return ev


_SEVERITY: dict[int, Severity] = {3: "error", 2: "warning", 1: "info"}


def edit_needs_baseline(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``edit-needs-baseline``: an edit request with no image attached."""
    ev = edit_evidence(doc)
    sig.edit_intent = ev.level >= 2
    if ev.level == 0 or ctx.has_baseline:
        return []
    severity = _SEVERITY[ev.level]
    if ev.lang == "zh" and severity == "error":
        severity = "warning"  # no labeled Chinese edit set yet (prompt-lint.md §7)
    if ev.lang == "zh":
        fix = (
            "附上要修改的图片（baseline），例如：“使用提供的图片，只把背景换成海滩，其余保持不变”；"
            "或改写成对一张新图片的完整描述。"
        )
    else:
        fix = (
            'Attach the image to edit (baseline), then say "Using the provided image, change only … Keep everything '
            'else unchanged."; or rewrite the prompt as a full description of a new image.'
        )
    message = {
        3: "This is an edit instruction, but no image is attached to edit.",
        2: "This reads like an edit instruction, but no image is attached.",
        1: "The prompt refers to an existing image, but none is attached.",
    }[ev.level]
    return [hint(doc, "edit-needs-baseline", severity, message, fix, ev.where, lang=ev.lang, ambiguity=True)]


def edit_no_preserve(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``edit-no-preserve``: a baseline is attached but nothing says what must stay the same.

    Only for free edits (a baseline, mode ``edit``): a mask, a canvas or a cut-out keep the rest by construction.
    """
    if not ctx.has_baseline or ctx.operation not in ("generate", "edit"):
        return []
    if lx.pattern("en", "preserve").search(doc.masked) or lx.pattern("zh", "preserve").search(doc.masked):
        return []
    zh = doc.han_chars > doc.en_words
    return [
        hint(
            doc,
            "edit-no-preserve",
            "info",
            "An edit that does not say what to keep; the model may change more than you want.",
            "加一句保留说明，例如“只修改背景，其余保持不变”。"
            if zh
            else 'Say what must stay, e.g. "Change only the background; keep subject, pose and light unchanged."',
            None,
            lang="zh" if zh else "en",
        )
    ]
