"""The one-line summary a model reads: counts that add up, punctuation that reads as written."""

from __future__ import annotations

from typing import Literal

from imagegen_mcp.models import GenerateResult, Hint
from imagegen_mcp.surface.server import summary


def hint(rule: str, severity: Literal["error", "warning", "info"], fix: str) -> Hint:
    return Hint(rule=rule, severity=severity, message=f"{rule} message.", fix=fix)


def result(*hints: Hint) -> GenerateResult:
    return GenerateResult(model="m", provider="placeholder", elapsed_s=0.1, hints=list(hints), dry_run=True)


def test_the_more_count_is_every_hint_not_shown() -> None:
    line = summary(result(hint("a", "warning", "Do a."), hint("b", "info", "Do b."), hint("c", "info", "Do c.")))
    assert "[a] Do a" in line and "[b]" not in line
    assert "(+2 more in hints)" in line, line


def test_two_warnings_shown_and_the_rest_counted() -> None:
    hs = [hint(r, "warning", f"Do {r}.") for r in "abcd"]
    line = summary(result(*hs))
    assert "[a] Do a; [b] Do b (+2 more in hints)." in line, line


def test_hints_never_end_with_a_double_period() -> None:
    line = summary(result(hint("a", "warning", 'Say it, e.g. "a fox".'), hint("b", "warning", "Do b.")))
    assert ".." not in line and ".;" not in line, line
    assert line.endswith("[b] Do b."), line
