"""Property tests: lint never raises on arbitrary Unicode, is deterministic, and keeps spans in bounds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegen_mcp.lint import LintContext, lint
from imagegen_mcp.lint.engine import run

# Fragments that exercise every rule, glued together in random order.
FRAGMENTS = [
    "a sign that says ",
    "Deep Learning",
    '"OPEN"',
    "'Don't Panic!'",
    "“开业大吉”",
    "《夏日》",
    "写着",
    "no people",
    "without",
    "不要文字",
    "无人机",
    "无人",
    "seven",
    "3",
    "两只",
    "一些",
    "generate 4 images",
    "生成四张",
    "16:9",
    "16：9",
    "--ar 3:2",
    "(masterpiece:1.2)",
    "photorealistic",
    "watercolor",
    "黑白",
    "色彩鲜艳",
    "Remove the ",
    "make it brighter",
    "把背景换成",
    "这张照片",
    "vertical poster",
    "竖版",
    ", ",
    "，",
    ". ",
    " ",
    "'",
    '"',
    "ﬁ",
    "e\u0301",
    "🐱",
    "\u200b",
    "\ud800",
]

contexts = st.builds(
    LintContext,
    model=st.sampled_from(
        [None, "google/gemini-3.1-flash-image-preview", "openai/gpt-image-1", "black-forest-labs/flux.2-pro", "x"]
    ),
    family=st.sampled_from([None, "midjourney", "stability", "imagen", "bogus"]),
    aspect_ratio=st.sampled_from([None, "1:1", "16:9", "9:16", "1024x1536", "nonsense", "0:0"]),
    has_baseline=st.booleans(),
    count=st.integers(min_value=0, max_value=8),
)


def _check(prompt: str, context: LintContext) -> None:
    first = run(prompt, context)  # no safety net: a bug raises here
    second = run(prompt, context)
    assert first.model_dump() == second.model_dump()
    assert lint(prompt, context).model_dump() == first.model_dump()
    for h in first.hints:
        if h.span is not None:
            assert 0 <= h.span[0] <= h.span[1] <= len(prompt)
    strict = first.strict()
    order = {"info": 0, "warning": 1, "error": 2}
    for a, b in zip(first.hints, strict.hints, strict=True):
        assert order[b.severity] >= order[a.severity]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=st.text(max_size=400), context=contexts)
def test_lint_never_raises_on_arbitrary_unicode_and_is_deterministic(prompt: str, context: LintContext) -> None:
    _check(prompt, context)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=25), context=contexts)
def test_lint_never_raises_on_rule_heavy_prompts(parts: list[str], context: LintContext) -> None:
    _check("".join(parts), context)


@settings(max_examples=100, deadline=None)
@given(prompt=st.text(alphabet=st.characters(categories=["Lo", "Lu", "Ll", "Nd", "Po", "Zs", "Mn"]), max_size=200))
def test_evidence_defaults_to_the_matched_original_text(prompt: str) -> None:
    own_evidence = {"quality-boilerplate", "count-present", "style-conflict", "too-long", "text-too-long"}
    for h in run(prompt, LintContext()).hints:
        if h.span is not None and h.rule not in own_evidence:
            assert h.evidence == prompt[h.span[0] : h.span[1]]
