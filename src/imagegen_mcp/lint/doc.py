"""Prepared prompt text: NFKC normalisation with an offset map, quoted literals, masking, counts.

Rules never see the raw prompt. They see :class:`Doc`: ``text`` is the NFKC form (full-width ``＂`` and
``：`` become ASCII), ``masked`` is the same string with the *inside* of every quoted literal replaced by
:data:`MASK` (same length, so offsets agree), and :meth:`Doc.span` maps ``text`` offsets back to the
original string.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .lexicon import EN_LETTER, HAN

MASK = "\ue000"
"""Stands in for every character inside a quoted literal (not a letter, digit, space or Han character)."""

# Delimiter pairs for literal text. "'" and the curly single quotes double as apostrophes: see _can_open.
_PAIRS: dict[str, str] = {
    '"': '"',
    "“": "”",
    "”": "”",
    "‘": "’",
    "'": "'",
    "「": "」",
    "『": "』",
    "《": "》",
    "〝": "〞",
    "«": "»",
    "„": "“",
}
_APOSTROPHE_LIKE = frozenset("'’‘")
_MAX_LITERAL = 300
_WORD_RE = re.compile(f"[{EN_LETTER}]+(?:['’][{EN_LETTER}]+)*")
_HAN_CHAR_RE = re.compile(f"[{HAN}\U00020000-\U0002fa1f]")
_LATIN = re.compile(f"[{EN_LETTER}]")


@dataclass(frozen=True, slots=True)
class Literal:
    """A delimited literal: ``start``/``end`` include the delimiters, ``inner_*`` do not (``text`` offsets)."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    value: str


@dataclass(slots=True)
class Doc:
    """One prompt, prepared for the rules."""

    original: str
    text: str
    masked: str
    literals: tuple[Literal, ...]
    starts: list[int] | None
    ends: list[int] | None
    en_words: int
    han_chars: int
    notes: dict[str, object] = field(default_factory=dict)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` range of ``text`` back to the original prompt."""
        n = len(self.text)
        start = max(0, min(start, n))
        end = max(start, min(end, n))
        if self.starts is None or self.ends is None:
            return (start, end)
        if n == 0:
            return (0, 0)
        if start == n:
            o = len(self.original)
            return (o, o)
        s = self.starts[start]
        e = self.ends[end - 1] if end > start else s
        return (s, max(s, e))

    def rewrite(self, edits: list[tuple[int, int, str]]) -> str:
        """The original prompt with ``text`` ranges replaced (for concrete rewrites in a fix)."""
        out = self.original
        for start, end, new in sorted(edits, key=lambda x: (-x[0], -x[1])):
            s, e = self.span(start, end)
            out = out[:s] + new + out[e:]
        return out

    def in_literal(self, pos: int) -> bool:
        """True when ``pos`` (a ``text`` offset) lies inside a quoted literal, delimiters included."""
        return any(lit.start <= pos < lit.end for lit in self.literals)

    @property
    def lang(self) -> str:
        """``en``, ``zh`` or ``mixed`` (by script, after masking literals)."""
        if self.han_chars and self.en_words:
            return "mixed"
        return "zh" if self.han_chars else "en"

    @property
    def size_words(self) -> float:
        """Length in English-word equivalents: 1.8 Han characters count as one word."""
        return self.en_words + self.han_chars / 1.8


def normalize(original: str) -> tuple[str, list[int] | None, list[int] | None]:
    """NFKC per grapheme (a base character plus its combining marks), with start/end offset maps.

    Returns ``(text, None, None)`` when the prompt is already NFKC (the common case): offsets are then
    the identity.
    """
    if original.isascii() or unicodedata.is_normalized("NFKC", original):
        return original, None, None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    n = len(original)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(original[j]):
            j += 1
        chunk = unicodedata.normalize("NFKC", original[i:j])
        out.append(chunk)
        starts.extend([i] * len(chunk))
        ends.extend([j] * len(chunk))
        i = j
    return "".join(out), starts, ends


def _is_word(ch: str) -> bool:
    return bool(_LATIN.match(ch))


def _can_open(text: str, i: int) -> bool:
    ch = text[i]
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if not nxt or nxt.isspace():
        return False
    prev = text[i - 1] if i > 0 else ""
    if ch in _APOSTROPHE_LIKE and prev and _is_word(prev):
        return False  # don't, Lincoln's, 5'
    if ch == '"' and prev.isdigit():
        return False  # a 12" pizza
    return not (ch in _APOSTROPHE_LIKE and re.match(r"\d0s\b", text[i + 1 : i + 5]))  # the '90s


def _can_close(text: str, j: int, opener: str) -> bool:
    closer = text[j]
    prev = text[j - 1] if j > 0 else ""
    if not prev or prev.isspace():
        return False
    if closer in _APOSTROPHE_LIKE:
        nxt = text[j + 1] if j + 1 < len(text) else ""
        if nxt and _is_word(nxt) and _is_word(prev):
            return False  # an apostrophe inside a word: Don't
    return True


def find_literals(text: str) -> tuple[Literal, ...]:
    """All delimited literals, left to right, non-overlapping."""
    found: list[Literal] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        closer = _PAIRS.get(ch)
        if closer is None or not _can_open(text, i):
            i += 1
            continue
        limit = min(n, i + 1 + _MAX_LITERAL)
        j = i + 1
        hit = -1
        while j < limit:
            if text[j] == closer and _can_close(text, j, ch):
                hit = j
                break
            if text[j] == "\n":
                break
            j += 1
        if hit < 0:
            i += 1
            continue
        value = text[i + 1 : hit]
        if value.strip():
            found.append(Literal(i, hit + 1, i + 1, hit, value))
            i = hit + 1
        else:
            i += 1
    return tuple(found)


def prepare(original: str) -> Doc:
    """Normalise, find literals, mask them, count words and Han characters."""
    text, starts, ends = normalize(original)
    literals = find_literals(text)
    if literals:
        chars = list(text)
        for lit in literals:
            for k in range(lit.inner_start, lit.inner_end):
                chars[k] = MASK
        masked = "".join(chars)
    else:
        masked = text
    return Doc(
        original=original,
        text=text,
        masked=masked,
        literals=literals,
        starts=starts,
        ends=ends,
        en_words=len(_WORD_RE.findall(text)),
        han_chars=len(_HAN_CHAR_RE.findall(text)),
    )
