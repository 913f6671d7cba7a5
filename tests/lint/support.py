"""Shared helpers for the linter tests."""

from __future__ import annotations

from typing import Any

from imagegen_mcp.lint import LintContext, LintHint, LintReport
from imagegen_mcp.lint.engine import run


def report(prompt: str, **context: Any) -> LintReport:
    """Lint without the safety net of ``lint()`` so that a bug fails the test instead of hiding."""
    return run(prompt, LintContext(**context))


def rules(prompt: str, **context: Any) -> set[str]:
    """The rule ids that fire on ``prompt``."""
    return {h.rule for h in report(prompt, **context).hints}


def hints(prompt: str, rule: str, **context: Any) -> list[LintHint]:
    """The hints of one rule."""
    return [h for h in report(prompt, **context).hints if h.rule == rule]


def severities(prompt: str, rule: str, **context: Any) -> set[str]:
    """The severities one rule reports."""
    return {h.severity for h in hints(prompt, rule, **context)}
