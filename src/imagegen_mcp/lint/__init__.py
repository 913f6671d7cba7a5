"""Prompt-clarity linter: catch what image models are known to get wrong before a request is sent.

Deterministic and rule based (standard library ``re`` plus the JSON lexicons in ``lexicons/``), for
English, Chinese and mixed prompts. See ``docs/lint-rules.md`` for every rule id.

>>> from imagegen_mcp.lint import lint, LintContext
>>> report = lint("A sign that says Deep Learning", LintContext(model="google/gemini-3.1-flash-image-preview"))
>>> [h.rule for h in report.hints if h.severity != "info"]
['text-unquoted']
"""

from __future__ import annotations

from .models import COVERAGE_KEYS, LintContext, LintHint, LintReport
from .policy import model_family

__all__ = ["LintContext", "LintHint", "LintReport", "lint", "model_family"]

_DEFAULT_CONTEXT = LintContext()


def lint(prompt: str, context: LintContext | None = None) -> LintReport:
    """Lint one prompt against the request parameters in ``context``.

    Never raises for any ``str`` input and is deterministic: the same prompt and context give the same
    report. Should a rule hit a bug, the report carries a single ``lint-internal-error`` info hint
    instead of failing the request.
    """
    from .engine import run

    if not isinstance(prompt, str):
        prompt = "" if prompt is None else str(prompt)
    try:
        return run(prompt, context or _DEFAULT_CONTEXT)
    except Exception as exc:  # pragma: no cover - a safety net; tests call engine.run directly
        return LintReport(
            hints=[
                LintHint(
                    rule="lint-internal-error",
                    severity="info",
                    message=f"The prompt linter failed on this prompt ({type(exc).__name__}); no hints.",
                    fix="Report the prompt to the maintainers; the request itself is unaffected.",
                    span=None,
                )
            ],
            ambiguous=False,
            edit_intent=False,
            coverage=dict.fromkeys(COVERAGE_KEYS, False),
        )
