"""Counts: count-present, vague-plural, image-count-in-text.

English counts are number words or digits followed by a word that is not a unit ("4K", "35mm", "10:30",
"in 1999" are not counts). Chinese counts are a numeral plus a classifier (三只, 两个); 一个/一只 is just
"a" and bare 一 (一起, 一样, 统一) is never a count.
"""

from __future__ import annotations

import functools
import re

from . import lexicon as lx
from .base import Ctx, Signals, hint, shorten
from .doc import MASK, Doc
from .models import Lang, LintHint, Severity

_DIGITS = r"\d{1,3}(?:,\d{3})+|\d+"
_ZH_NUM_VALUE = {"两": 2, "兩": 2, "俩": 2, "倆": 2}


@functools.cache
def _en_count_re() -> re.Pattern[str]:
    words = lx.alternation("en", tuple(lx.mapping("en", "numbers")))
    return re.compile(
        rf"(?<![{lx.EN_LETTER}$#£€¥.:/\-])(?:(?P<num>{_DIGITS})(?![\d.,:/]\d)|(?P<word>(?:{words})(?:-(?:{words}))?))"
        rf"(?![{lx.EN_LETTER}])",
        re.IGNORECASE,
    )


@functools.cache
def _zh_count_re() -> re.Pattern[str]:
    nums = lx.text("zh", "numerals").replace("一", "").replace("零", "").replace("〇", "")
    cls = lx.text("zh", "classifiers")
    pair = lx.text("zh", "pair_classifiers")
    return re.compile(
        rf"(?:(?P<num>[0-9]+|[一二两兩三四五六七八九十百千万萬]{{2,}}|[{nums}])(?P<cls>[{cls}])(?!八方|六臂|五次)"
        rf"|一(?P<pair>[{pair}])|(?P<duo>[俩倆]))"
    )


@functools.cache
def _image_count_re() -> re.Pattern[str]:
    verbs = lx.alternation("en", lx.terms("en", "image_count_verbs"))
    nouns = lx.alternation("en", lx.terms("en", "image_nouns"))
    nums = lx.alternation("en", tuple(k for k in lx.mapping("en", "numbers") if k not in ("one", "a single")))
    return re.compile(
        rf"(?<![{lx.EN_LETTER}])(?:(?:{verbs})\s+(?:me\s+|us\s+)?(?P<n1>\d+|{nums}|a\s+few|a\s+couple\s+of|several|multiple)"
        rf"\s+(?:\w+\s+){{0,2}}?(?:{nouns})"
        rf"|(?P<n2>\d+|{nums})\s+(?:different\s+|distinct\s+|separate\s+|alternative\s+|more\s+|unique\s+)?"
        rf"(?:versions|variations|variants|options|alternatives|takes|drafts|iterations))(?![{lx.EN_LETTER}])",
        re.IGNORECASE,
    )


def _en_value(token: str) -> int:
    numbers = lx.mapping("en", "numbers")
    t = " ".join(token.lower().split())
    if t.replace(",", "").isdigit():
        return int(t.replace(",", ""))
    total = 0
    for part in t.split("-"):
        v = numbers.get(part)
        total += v if isinstance(v, int) else 0
    return total or 1


def _zh_value(token: str) -> int:
    if token.isdigit():
        return int(token)
    values = lx.mapping("zh", "numeral_values")
    total, current = 0, 0
    for ch in token:
        v = _ZH_NUM_VALUE.get(ch)
        if v is None:
            raw = values.get(ch, 0)
            v = raw if isinstance(raw, int) else 0
        if v >= 10:
            total += (current or 1) * v
            current = 0
        else:
            current = v
    return total + current


def image_count_in_text(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``image-count-in-text``: "generate 4 images", 生成四张 (use the n parameter)."""
    masked = doc.masked
    grid = bool(lx.pattern("en", "grid_words").search(masked) or lx.pattern("zh", "grid_words").search(masked))
    found: list[tuple[int, int, int, Lang]] = []
    for m in _image_count_re().finditer(masked):
        tok = m.group("n1") or m.group("n2") or ""
        value = _en_value(tok) if tok and not tok.lower().startswith(("a ", "several", "multiple")) else 0
        found.append((m.start(), m.end(), value, "en"))
    for m in lx.pattern("zh", "image_count").finditer(masked):
        digits = next((g for g in m.groups() if g), "")
        found.append((m.start(), m.end(), _zh_value(digits) if digits else 0, "zh"))
    out: list[LintHint] = []
    for s, e, value, lang in sorted(found):
        if sig.quiet(s, e):
            continue
        sig.image_count_spans.append((s, e))
        n = f"n={value}" if value else "n"
        same = value and value == ctx.count
        severity: Severity = "info" if grid or same else "warning"
        if grid:
            fix = (
                'For one image with several panels, describe the layout ("a 2x2 grid of …"); '
                f"for separate images set {n} instead."
            )
        elif lang == "zh":
            fix = f"删掉「{doc.text[s:e]}」，用图片数量参数（{n}）；提示词只描述一张图。"
        else:
            fix = (
                f'Remove "{doc.text[s:e]}" from the prompt and set the image-count parameter ({n}); describe one image.'
            )
        out.append(
            hint(
                doc,
                "image-count-in-text",
                severity,
                "The number of images is requested in the prompt; the model may draw them all in one image, "
                "and the count is not guaranteed.",
                fix,
                (s, e),
                lang=lang,
                ambiguity=True,
            )
        )
    return out


def _en_counts(doc: Doc, sig: Signals) -> list[tuple[int, int, int]]:
    masked = doc.masked
    not_after = lx.anchored("en", "count_not_after", "start")
    one_not_before = lx.anchored("en", "count_one_not_before", "end")
    out: list[tuple[int, int, int]] = []
    for m in _en_count_re().finditer(masked):
        s, e = m.span()
        tok = m.group(0)
        rest = masked[e : e + 40]
        if MASK in rest[:2] or not (rest[:1].isspace() or (rest[:1] == "-" and m.group("num"))):
            continue
        if not_after.match(rest) or not re.match(r"\s*[A-Za-z]", rest):
            continue
        low = tok.lower()
        before = masked[max(0, s - 12) : s].lower()
        if m.group("num"):
            value = int(tok.replace(",", ""))
            if 1500 <= value <= 2100 and len(tok) == 4:
                continue  # a year
            if re.search(r"(?:no\.?|number|route|#|room|page|chapter|level|version|v)\s*$", before):
                continue
        else:
            value = _en_value(tok)
            if low == "one" and one_not_before.search(masked[max(0, s - 20) : s]):
                continue
        if _OF_BEFORE.search(before) or _reaches_noun(rest, value):
            out.append((s, e, value))
    return out


_OF_BEFORE = re.compile(r"(?<![a-z])of\s+$")
_NEXT_WORDS = re.compile(r"[\s\-]*([A-Za-z][A-Za-z'’]*)")


def _reaches_noun(rest: str, value: int) -> bool:
    """A count needs its noun: a plural within three words for > 1 ("seven red balloons"), a noun for 1."""
    words: list[str] = []
    pos = 0
    for _ in range(3):
        m = _NEXT_WORDS.match(rest, pos)
        if not m:
            break
        words.append(m.group(1).lower())
        pos = m.end()
    if not words:
        return False
    if value == 1:
        first = words[0]
        return (
            first not in _wordset("count_one_not_next")
            and first not in _wordset("function_words")
            and not first.endswith("ing")
        )
    irregular = _wordset("plural_irregular")
    function = _wordset("function_words")
    for w in words:
        if w in irregular or (w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 2):
            return True
        if w in function:
            return False
    return False


@functools.cache
def _wordset(key: str) -> frozenset[str]:
    return frozenset(t.lower() for t in lx.terms("en", key))


def _zh_counts(doc: Doc) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    not_after = lx.anchored("zh", "count_not_after", "start")
    for m in _zh_count_re().finditer(doc.masked):
        s, e = m.span()
        if m.group("pair") or m.group("duo"):
            out.append((s, e, 2))
            continue
        if not_after.match(doc.masked, e):
            continue
        out.append((s, e, _zh_value(m.group("num"))))
    return out


def count_present(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``count-present``: explicit counts; warning if any count >= 5 or >= 3 counted groups."""
    counts = [
        (s, e, v, lang)
        for lang, items in (("en", _en_counts(doc, sig)), ("zh", _zh_counts(doc)))
        for s, e, v in items
        if not sig.quiet(s, e) and not any(a < e and s < b for a, b in sig.image_count_spans)
    ]
    if not counts:
        return []
    counts.sort()
    big = [c for c in counts if c[2] >= 5]
    severity: Severity = "warning" if big or len(counts) >= 3 else "info"
    first = counts[0]
    phrases = [_phrase(doc, s, e) for s, e, _, _ in counts]
    lang: Lang = "zh" if first[3] == "zh" else "en"
    if big:
        b = big[0]
        what = _phrase(doc, b[0], b[1])
        fix = (
            f"「{what}」：数量 ≥ 5 时模型常数错；减少数量，或写明排列方式（如「排成一排」），并检查结果。"
            if b[3] == "zh"
            else f'"{what}": models often miscount above four; use fewer, or arrange them ("{what} in a single row").'
        )
    elif len(counts) >= 3:
        fix = "Several counted groups: keep each count small and give each group its own place (left, right, front)."
    else:
        fix = (
            "数量已写明；保持较小的数字，并检查结果。"
            if lang == "zh"
            else "Counts are explicit (good); keep them small and give each group a position in the scene."
        )
    return [
        hint(
            doc,
            "count-present",
            severity,
            f"Explicit count{'s' if len(counts) > 1 else ''} ({'; '.join(phrases)}): models often miscount.",
            fix,
            (first[0], first[1]),
            lang=lang,
            evidence="; ".join(phrases),
        )
    ]


def _phrase(doc: Doc, s: int, e: int) -> str:
    """The count and its noun, for messages: "seven red balloons", 七个红气球."""
    if lx.HAN_RE.search(doc.masked[s:e]):
        zm = _ZH_TAIL.match(doc.masked, e)
        return doc.text[s : zm.end() if zm else e].strip()
    end = e
    function = _wordset("function_words")
    for _ in range(3):
        m = _NEXT_WORDS.match(doc.masked, end)
        if not m or m.group(1).lower() in function:
            break
        end = m.end()
        if m.group(1).lower().endswith("s") or m.group(1).lower() in _wordset("plural_irregular"):
            break
    return doc.text[s:end].strip()


_ZH_TAIL = re.compile(r"[^\s，。；：！？,.;:!?的在]{0,3}")


def vague_plural(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``vague-plural``: several, many, a few, a group of, a pile of; 一些, 许多, 一群."""
    out: list[LintHint] = []
    skip = lx.anchored("en", "vague_plural_skip_after", "start")
    for lang in ("en", "zh"):
        for m in lx.pattern(lang, "vague_plural").finditer(doc.masked):
            s, e = m.span()
            if sig.quiet(s, e) or (lang == "en" and skip.match(doc.masked, e)):
                continue
            word = doc.text[s:e]
            if lang == "zh":
                fix = f"写出具体数量，例如把「{word}」改成「三只」「五个」。"
            elif "family" in word.lower():
                fix = 'Say who is in it, e.g. "two adult owls and three owlets".'
            else:
                fix = _short_fix(doc, s, e)
            out.append(
                hint(
                    doc,
                    "vague-plural",
                    "info",
                    f'"{word}" leaves the number to chance; models pick any count.',
                    fix,
                    (s, e),
                    lang="zh" if lang == "zh" else "en",
                    ambiguity=True,
                )
            )
    return out


def _short_fix(doc: Doc, s: int, e: int) -> str:
    return f'Give a number, e.g. "{shorten(doc.rewrite([(s, e, "three")]), 120)}".'
