"""Run the rules in a fixed order and assemble the report.

Order matters only where one rule feeds another: text cues (quiet spans for guessed unquoted text)
come before negation, counts and style; the image count before the object counts; edit intent and
coverage before the missing-* hints and vague-term. Hints are sorted by (span start, rule id, …) so
the output is deterministic.
"""

from __future__ import annotations

from . import (
    policy,
    rules_basic,
    rules_count,
    rules_coverage,
    rules_edit,
    rules_modes,
    rules_negation,
    rules_params,
    rules_style,
    rules_text,
)
from .base import Ctx, Rule, Signals
from .doc import Doc, prepare
from .models import COVERAGE_KEYS, LintContext, LintHint, LintReport

RULES: tuple[Rule, ...] = (
    rules_edit.edit_needs_baseline,
    rules_basic.too_short,
    rules_basic.too_long,
    rules_text.text_unquoted,
    rules_text.text_too_long,
    rules_text.text_no_typography,
    rules_edit.edit_no_preserve,
    rules_modes.inpaint_whole_picture,
    rules_modes.outpaint_not_extension,
    rules_coverage.missing_subject,
    rules_coverage.missing_elements,
    rules_coverage.vague_term,
    rules_basic.quality_boilerplate,
    rules_basic.keyword_list,
    rules_negation.negative_phrasing,
    rules_count.image_count_in_text,
    rules_count.count_present,
    rules_count.vague_plural,
    rules_style.style_conflict,
    rules_style.binding_risk,
    rules_params.aspect_rules,
    rules_params.foreign_syntax,
    rules_params.language_support,
)

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def resolve(context: LintContext) -> Ctx:
    """Turn the public context into the rules' view of it."""
    ratio = rules_params.parse_ratio(context.aspect_ratio)
    return Ctx(
        family=policy.resolve_family(context.family, context.model),
        model=(context.model or "").lower(),
        ratio=ratio,
        ratio_text=context.aspect_ratio.strip() if ratio is not None and context.aspect_ratio else None,
        has_baseline=context.has_baseline,
        count=context.count,
        operation=context.operation,
    )


def _sort_key(h: LintHint) -> tuple[int, str, int, int, str, str]:
    start, end = h.span if h.span is not None else (-1, -1)
    return (start, h.rule, end, _SEVERITY_ORDER[h.severity], h.message, h.fix)


def run(prompt: str, context: LintContext) -> LintReport:
    """Lint one prompt (may raise on a bug; :func:`imagegen_mcp.lint.lint` guards it)."""
    doc: Doc = prepare(prompt)
    ctx = resolve(context)
    sig = Signals()
    if rules_basic.is_empty(doc):
        empty = rules_basic.empty_prompt(doc, ctx, sig)
        return LintReport(hints=empty, ambiguous=False, edit_intent=False, coverage=dict.fromkeys(COVERAGE_KEYS, False))
    rules_coverage.compute_coverage(doc, sig)
    hints: list[LintHint] = []
    for rule in RULES:
        hints.extend(rule(doc, ctx, sig))
    hints.sort(key=_sort_key)
    return LintReport(
        hints=hints,
        ambiguous=any(h.ambiguity for h in hints),
        edit_intent=sig.edit_intent,
        text_intent=sig.text_intent,
        coverage={k: bool(sig.coverage.get(k, False)) for k in COVERAGE_KEYS},
    )
