"""Text to render: text intent, text-unquoted, text-too-long, text-no-typography.

Text intent = a text cue ("says", "written on", 写着 …) or a delimited literal. A cue whose words are
not delimited gets ``text-unquoted`` with the guessed words quoted in the fix. Guessed words are added
to ``Signals.quiet_spans`` so that, say, "no" inside an unquoted slogan is not read as a negation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from . import lexicon as lx
from . import policy
from .base import Ctx, Signals, hint, shorten
from .doc import MASK, Doc
from .models import Lang, LintHint, Severity
from .rules_basic import wordset

_CLAUSE_END = re.compile(r"[.!?;\n。！？；]")
_TOKEN = re.compile(r"\S+")
_ZH_RUN_END = re.compile(r"[，,。.！!？?；;：:、\n的]|$")
_TRAIL = ".,;:)]}"
_INTRODUCERS = frozenset({"with", "has", "have", "having", "bearing", "reading", "saying"})
_NEG_BEFORE_EN = re.compile(
    r"(?<![A-Za-z])(?:no|without|free\s+of|don['’]?t|do\s+not|avoid|never|zero|remove|minus)"
    r"(?:\s+(?:any|the|a|an|visible|readable|extra|added|other))*\s*$",
    re.IGNORECASE,
)
_DETERMINER_PREFIX = re.compile(r"^(?:the\s+)?(?:words?|letters?|numbers?|phrase|name|saying|text)\s+", re.IGNORECASE)
_CAPS = re.compile(r"^[A-Z0-9][A-Z0-9\-!?'’&$#.,]*$")
_CAPITALISED_OR_DIGIT = re.compile(r"(?:^|\s)(?:[A-Z][\w'’!?\-]*|\d[\d,.$%]*)")


@dataclass(frozen=True, slots=True)
class Cue:
    """One text cue that counts: where it is and, when undelimited, the guessed words."""

    start: int
    end: int
    lang: Lang
    cand: tuple[int, int] | None
    delimited: bool


def _clause(masked: str, pos: int) -> tuple[int, int]:
    start = 0
    for m in _CLAUSE_END.finditer(masked, 0, pos):
        start = m.end()
    m2 = _CLAUSE_END.search(masked, pos)
    return start, (m2.start() if m2 else len(masked))


def _literal_near(doc: Doc, s: int, e: int, before: int = 60, after: int = 60) -> bool:
    cs, ce = _clause(doc.masked, s)
    for lit in doc.literals:
        if lit.start >= cs and lit.end <= ce + 1 and (s - before <= lit.end and lit.start <= e + after):
            return True
    return False


def _literal_right_after(doc: Doc, pos: int) -> bool:
    rest = doc.masked[pos : pos + 4]
    stripped = rest.lstrip(" :：-—")
    offset = pos + (len(rest) - len(stripped))
    return any(lit.start == offset for lit in doc.literals)


@functools.cache
def _carrier_before() -> re.Pattern[str]:
    alt = lx.alternation("en", lx.terms("en", "text_carriers"))
    return re.compile(
        rf"(?<![{lx.EN_LETTER}])(?:{alt})(?:e?s)?(?![{lx.EN_LETTER}])(?:\s+\S+){{0,4}}\s*$", re.IGNORECASE
    )


def _forward_candidate(doc: Doc, pos: int, limit: int) -> tuple[int, int] | None:
    """Unquoted words after a cue, up to a stop word or punctuation (at most 8 words)."""
    stop = wordset("text_stop_words")
    first_bad = lx.anchored("en", "text_not_literal", "start")
    seg = doc.masked[pos:limit]
    if not seg.strip() or MASK in seg[:3]:
        return None
    head = seg.split()[0]
    if first_bad.match(seg) and not (len(head) > 1 and head.isupper()):
        return None  # "says a lot", "should be bold"; but "BE KIND" is the text
    start = end = -1
    for count, m in enumerate(_TOKEN.finditer(seg), start=1):
        tok = m.group(0)
        low = tok.lower().rstrip(_TRAIL + "!?")
        if count > 1 and low in stop:
            break
        if MASK in tok:
            break
        if start < 0:
            start = pos + m.start()
        end = pos + m.end()
        if tok[-1:] in ",;:" or count >= 8:
            break
    if start < 0:
        return None
    while end > start and doc.masked[end - 1] in _TRAIL:
        end -= 1
    if end == limit and doc.masked[end : end + 1] in ("!", "?"):
        end += 1  # "says Welcome Friends!": the mark belongs to the words
    return (start, end) if end > start else None


def _backward_candidate(doc: Doc, pos: int, floor: int) -> tuple[int, int] | None:
    """Unquoted words right before a cue ("with Carpe Diem written on it")."""
    seg = doc.masked[floor:pos]
    toks = list(_TOKEN.finditer(seg))
    picked: list[re.Match[str]] = []
    introduced = False
    for m in reversed(toks):
        low = m.group(0).lower().strip(_TRAIL)
        if low in _INTRODUCERS:
            introduced = True
            break
        if MASK in m.group(0) or len(picked) >= 6:
            break
        picked.append(m)
    if not picked or not introduced:
        return None  # only "with X written on it" / "has X painted on it" name the text
    start = floor + picked[-1].start()
    end = floor + picked[0].end()
    words = doc.masked[start:end]
    prefix = _DETERMINER_PREFIX.match(words)
    if prefix:
        start += prefix.end()
        words = doc.masked[start:end]
    if not words.strip() or lx.anchored("en", "text_not_literal", "start").match(words):
        return None
    return (start, end)


def _en_cues(doc: Doc, sig: Signals) -> list[Cue]:
    context = wordset("text_context_cues")
    candidate_only = wordset("text_candidate_cues")
    digit_cues = wordset("text_digit_cues")
    noun_cues = wordset("text_noun_cues")
    masked = doc.masked
    cues: list[Cue] = []
    strong = lx.pattern("en", "text_cues_strong")
    mark = lx.pattern("en", "text_cues_mark")
    digits = lx.pattern("en", "text_digit_cues")
    found = [(m, False) for m in strong.finditer(masked)] + [(m, True) for m in mark.finditer(masked)]
    found += [(m, False) for m in digits.finditer(masked)]
    found.sort(key=lambda x: (x[0].start(), -x[0].end()))
    taken: list[tuple[int, int]] = []
    for m, is_mark in found:
        s, e = m.span()
        if any(a < e and s < b for a, b in taken):
            continue
        cue = " ".join(m.group(0).lower().split())
        if _NEG_BEFORE_EN.search(masked[max(0, s - 40) : s]):
            continue  # "no text", "without any lettering"
        cs, ce = _clause(masked, s)
        after = _literal_right_after(doc, e)
        near = after or _literal_near(doc, s, e)
        if not near and cue in noun_cues and any(s - 120 <= lit.end and lit.start <= e + 120 for lit in doc.literals):
            near = True  # 'a logo called "The Daily Grind". The text should be bold.
        if cue in digit_cues:
            cand = _forward_candidate(doc, e, ce)
            if after or (cand and masked[cand[0]].isdigit()):
                taken.append((s, e))
                cues.append(Cue(s, e, "en", None if after else cand, after))
            continue
        if (
            cue in context
            and not (after or _carrier_before().search(masked[max(0, s - 60) : s]))
            and not (cue in ("titled", "entitled") and _forward_candidate(doc, e, ce))
        ):
            continue
        if near:
            taken.append((s, e))
            cues.append(Cue(s, e, "en", None, True))
            continue
        if is_mark or cue in ("written", "printed", "painted", "engraved", "carved"):
            cand = _backward_candidate(doc, s, cs)
            if cand is None and not is_mark:
                cand = None if cue == "written" else _forward_candidate(doc, e, ce)
            if is_mark and (cand is None or not _CAPITALISED_OR_DIGIT.search(masked[cand[0] : cand[1]])):
                continue  # "flowers painted on it", "a cityscape painted on it"
        else:
            cand = _forward_candidate(doc, e, ce)
            if cue in candidate_only and not _plausible_written_words(doc, cand, ce):
                continue  # "writing a letter", "casting spells"
        taken.append((s, e))
        cues.append(Cue(s, e, "en", cand, False))
    for m in lx.pattern("en", "text_amount").finditer(masked):
        s, e = m.span()
        if any(a <= s < b for a, b in taken) or any(c.cand and c.cand[0] <= s < c.cand[1] for c in cues):
            continue
        cues.append(Cue(s, e, "en", (s, e), False))
    return cues


def _plausible_written_words(doc: Doc, cand: tuple[int, int] | None, clause_end: int) -> bool:
    if cand is None:
        return False
    words = doc.masked[cand[0] : cand[1]].split()
    if len(words) > 4:
        return False
    if any(_CAPS.match(w) and any(c.isalpha() for c in w) for w in words):
        return True
    rest = doc.masked[cand[1] : clause_end].lstrip()
    return len(words) <= 3 and bool(re.match(r"(?:on|across|in|onto|into)\b", rest, re.IGNORECASE))


def _zh_cues(doc: Doc) -> list[Cue]:
    masked = doc.masked
    need_literal = frozenset(lx.terms("zh", "text_cues_need_literal"))
    negators = lx.anchored("zh", "text_negators", "end")
    symbols = lx.pattern("zh", "text_symbol_words")
    cues: list[Cue] = []
    for m in lx.pattern("zh", "text_cues").finditer(masked):
        s, e = m.span()
        cue = m.group(0)
        if negators.search(masked[max(0, s - 4) : s]):
            continue
        if cue in ("字样", "字樣"):
            cues.append(Cue(s, e, "zh", None, True))  # 印有X字样: the words come before the cue
            continue
        if _literal_right_after(doc, e) or _literal_near(doc, s, e, before=8, after=12):
            cues.append(Cue(s, e, "zh", None, True))
            continue
        if cue in need_literal:
            continue
        begin = e
        while begin < len(masked) and masked[begin] == " ":
            begin += 1
        run = _ZH_RUN_END.search(masked, begin)
        end = min(run.start() if run else len(masked), begin + 20)
        while end > begin and masked[end - 1] == " ":
            end -= 1
        if end <= begin or MASK in masked[begin:end]:
            cand = None
        else:
            cand = (begin, end)
            if symbols.search(masked[begin:end]):
                continue  # 印有太极图案: a symbol, not text
        cues.append(Cue(s, e, "zh", cand, False))
    return cues


def find_cues(doc: Doc, sig: Signals) -> list[Cue]:
    """All text cues that count, English and Chinese, sorted by position."""
    cached = doc.notes.get("text_cues")
    if isinstance(cached, list):
        return cached
    cues = sorted(_en_cues(doc, sig) + _zh_cues(doc), key=lambda c: (c.start, c.end))
    doc.notes["text_cues"] = cues
    return cues


def text_unquoted(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``text-unquoted``: a text-to-render cue without a delimited literal."""
    cues = find_cues(doc, sig)
    sig.text_intent = bool(cues) or bool(doc.literals)
    out: list[LintHint] = []
    seen: set[tuple[int, int]] = set()
    for cue in cues:
        if cue.delimited:
            continue
        where = cue.cand or (cue.start, cue.end)
        if where in seen:
            continue
        seen.add(where)
        if cue.cand:
            sig.quiet_spans.append(cue.cand)
        out.append(_unquoted_hint(doc, ctx, cue, where))
    return out


def _unquoted_hint(doc: Doc, ctx: Ctx, cue: Cue, where: tuple[int, int]) -> LintHint:
    severity: Severity = "warning"
    words = doc.text[where[0] : where[1]] if cue.cand else None
    caps = bool(words) and all(_CAPS.match(w) for w in (words or "").split()) and any(c.isalpha() for c in words or "")
    if caps and ctx.family in policy.CAPS_IS_DELIMITED:
        severity = "info"
    if cue.lang == "zh":
        fix = (
            "把要出现的文字放进引号：" + shorten(doc.rewrite([(where[0], where[1], "“" + (words or "") + "”")]), 200)
            if words
            else "把要出现的文字放进引号，例如：招牌上写着“开业大吉”。"
        )
        message = "Text to render is not in quotes; the model may paraphrase or misspell it."
    else:
        fix = (
            "Quote the exact words: " + shorten(doc.rewrite([(where[0], where[1], f'"{words}"')]), 200)
            if words
            else 'Put the exact words in double quotes, e.g. a sign that says "OPEN".'
        )
        message = (
            f'The words to render ("{words}") are not in quotes; the model may paraphrase, misspell or describe them.'
            if words
            else "The prompt asks for text but does not say, in quotes, which words."
        )
    return hint(
        doc,
        "text-unquoted",
        "info" if severity == "info" else "warning",
        message,
        fix,
        where,
        lang=cue.lang,
        ambiguity=True,
    )


def _literal_size(value: str) -> int:
    han = len(lx.HAN_RE.findall(value))
    return len(value.strip()) - han + 3 * han


def text_too_long(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``text-too-long``: a literal over 25 characters (a Han character counts as 3), or more than 3 literals."""
    severity: Severity = "warning" if ctx.family in policy.TEXT_LONG_WARNING else "info"
    out: list[LintHint] = []
    for lit in doc.literals:
        if _literal_size(lit.value) > 25:
            zh = bool(lx.HAN_RE.search(lit.value))
            out.append(
                hint(
                    doc,
                    "text-too-long",
                    severity,
                    f"{len(lit.value.strip())} characters of text; models spell 1-4 words well, longer text poorly.",
                    "把文字压缩到 4 个词以内（约 8 个汉字），长文案放到后期排版。"
                    if zh
                    else "Cut it to 1-4 words (~25 characters); add longer copy later, e.g. headline + small subtitle.",
                    (lit.start, lit.end),
                    lang="zh" if zh else "en",
                )
            )
    if len(doc.literals) > 3:
        first = doc.literals[0]
        out.append(
            hint(
                doc,
                "text-too-long",
                severity,
                f"{len(doc.literals)} separate texts to render; more than three phrases are rarely all spelled right.",
                "Keep at most three short texts; render the most important first and add the rest in a follow-up edit.",
                (first.start, doc.literals[-1].end),
                evidence=f"{len(doc.literals)} literals",
            )
        )
    return out


def text_no_typography(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``text-no-typography``: text to render, but no font, size, colour or placement words."""
    if not doc.literals:
        return []
    if lx.pattern("en", "typography", True).search(doc.masked) or lx.pattern("zh", "typography").search(doc.masked):
        return []
    lit = doc.literals[0]
    zh = bool(lx.HAN_RE.search(lit.value)) or doc.han_chars > doc.en_words
    return [
        hint(
            doc,
            "text-no-typography",
            "info",
            "The text has no font, size, colour or placement; the model will guess.",
            "写明字体、大小、颜色和位置，例如：门上方居中的粉色霓虹手写体招牌写着“营业中”。"
            if zh
            else f"Say how it looks and where: e.g. {lit.value!r} in bold white sans-serif, centred at the top.",
            (lit.start, lit.end),
            lang="zh" if zh else "en",
        )
    ]
