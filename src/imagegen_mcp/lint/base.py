"""What every rule shares: the resolved context, cross-rule signals, and the hint builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .doc import Doc
from .models import Lang, LintHint, Severity


@dataclass(frozen=True, slots=True)
class Ctx:
    """The request parameters, resolved once per lint."""

    family: str
    model: str
    ratio: float | None
    ratio_text: str | None
    has_baseline: bool
    count: int
    operation: str = "generate"  # generate, an edit_image mode, or upscale


@dataclass(slots=True)
class Signals:
    """Facts one rule finds and another (or the report) uses."""

    edit_intent: bool = False
    text_intent: bool = False
    coverage: dict[str, bool] = field(default_factory=dict)
    quiet_spans: list[tuple[int, int]] = field(default_factory=list)
    """``text`` ranges that hold literal text even without quotes (other rules skip them)."""
    image_count_spans: list[tuple[int, int]] = field(default_factory=list)

    def quiet(self, start: int, end: int) -> bool:
        """True when ``[start, end)`` overlaps a quiet span."""
        return any(s < end and start < e for s, e in self.quiet_spans)


Rule = Callable[[Doc, Ctx, Signals], list[LintHint]]


def hint(
    doc: Doc,
    rule: str,
    severity: Severity,
    message: str,
    fix: str,
    where: tuple[int, int] | None,
    *,
    lang: Lang | None = None,
    ambiguity: bool = False,
    evidence: str | None = None,
) -> LintHint:
    """Build a hint from a ``text`` range: the span and default evidence refer to the original prompt."""
    span: tuple[int, int] | None = None
    if where is not None:
        span = doc.span(*where)
        if evidence is None:
            evidence = doc.original[span[0] : span[1]]
    return LintHint(
        rule=rule,
        severity=severity,
        message=message,
        fix=fix,
        span=span,
        evidence=evidence,
        lang=lang,
        ambiguity=ambiguity,
    )


def shorten(s: str, limit: int = 160) -> str:
    """Collapse whitespace and cut long rewrites for messages, between words where there are any."""
    s = " ".join(s.split())
    if len(s) <= limit:
        return s
    cut = s[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:  # a word boundary not too far back (CJK text has none: cut anywhere)
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
