"""The public shapes of the prompt linter: what goes in (context) and what comes out (report)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning", "info"]
Lang = Literal["en", "zh"]

COVERAGE_KEYS: tuple[str, ...] = ("subject", "style", "setting", "composition", "lighting", "mood")

_RAISE: dict[str, Severity] = {"info": "warning", "warning": "error", "error": "error"}


class LintContext(BaseModel):
    """The request parameters a prompt is linted against."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    """OpenRouter model id, e.g. ``google/gemini-3.1-flash-image-preview``."""
    provider: str | None = None
    """Provider name (``openrouter``, ``placeholder`` …); informational."""
    family: str | None = None
    """Provider family override; otherwise derived from ``model`` by :func:`model_family`."""
    aspect_ratio: str | None = None
    """The ``aspect_ratio`` request parameter (``"16:9"``; a ``"1024x1536"`` size also works), or None."""
    has_baseline: bool = False
    """A baseline (input) image is attached."""
    count: int = 1
    """Number of images requested (the ``n`` parameter)."""
    operation: str = "generate"
    """``generate``, an ``edit_image`` mode (``inpaint``, ``outpaint`` …) or ``upscale``: mode-specific rules."""


class LintHint(BaseModel):
    """One finding: a stable rule id, how bad it is, what to do, and where."""

    rule: str
    severity: Severity
    message: str
    fix: str
    span: tuple[int, int] | None
    """``[start, end)`` offsets into the original prompt string."""
    evidence: str | None = None
    lang: Lang | None = None
    ambiguity: bool = False


class LintReport(BaseModel):
    """All findings for one prompt, sorted by (span start, rule id)."""

    hints: list[LintHint] = Field(default_factory=list)
    ambiguous: bool = False
    edit_intent: bool = False
    """The edit-intent rule saw an edit request (with or without a baseline)."""
    text_intent: bool = False
    """The prompt asks for text to be rendered (a cue such as "says", or a quoted literal)."""
    coverage: dict[str, bool] = Field(default_factory=dict)

    def strict(self) -> LintReport:
        """Strict-mode view: every ambiguity hint moves up one level (info→warning, warning→error)."""
        hints = [h.model_copy(update={"severity": _RAISE[h.severity]}) if h.ambiguity else h for h in self.hints]
        return self.model_copy(update={"hints": hints})

    @property
    def ok(self) -> bool:
        """No error-severity hint."""
        return not any(h.severity == "error" for h in self.hints)

    def errors(self) -> list[LintHint]:
        """The error-severity hints, in report order."""
        return [h for h in self.hints if h.severity == "error"]
