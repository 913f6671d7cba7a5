"""The public contract: lint(), the models, strict mode, model families, ordering."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from imagegen_mcp.lint import LintContext, LintHint, LintReport, lint, model_family
from imagegen_mcp.lint.models import COVERAGE_KEYS


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("google/gemini-3.1-flash-image-preview", "gemini"),
        ("google/gemini-2.5-flash-image", "gemini"),
        ("openai/gpt-5-image", "openai"),
        ("openai/gpt-image-1", "openai"),
        ("black-forest-labs/flux.2-pro", "flux"),
        ("bytedance-seed/seedream-4.5", "generic"),
        ("", "generic"),
        (None, "generic"),
    ],
)
def test_model_ids_map_to_provider_families(model: str | None, family: str) -> None:
    assert model_family(model) == family


def test_an_explicit_family_overrides_the_model_and_unknown_families_are_generic() -> None:
    prompt = "a beach at sunset, no people"
    by_override = lint(prompt, LintContext(model="google/gemini-2.5-flash-image", family="openai"))
    assert {h.severity for h in by_override.hints if h.rule == "negative-phrasing"} == {"info"}
    unknown = lint(prompt, LintContext(family="nonsense"))
    assert {h.severity for h in unknown.hints if h.rule == "negative-phrasing"} == {"warning"}


def test_the_context_is_frozen_and_has_the_documented_defaults() -> None:
    ctx = LintContext()
    assert (ctx.model, ctx.provider, ctx.family, ctx.aspect_ratio, ctx.has_baseline, ctx.count) == (
        None,
        None,
        None,
        None,
        False,
        1,
    )
    with pytest.raises(ValidationError):
        ctx.count = 2  # type: ignore[misc]


def test_lint_works_without_a_context() -> None:
    rep = lint("A sign that says Deep Learning")
    assert isinstance(rep, LintReport)
    assert any(h.rule == "text-unquoted" for h in rep.hints)


def test_every_hint_has_a_rule_severity_message_fix_and_span_in_the_original() -> None:
    prompt = "ＡＢＣ poster, a sign that says Deep Learning, no people, seven balloons, 16:9"
    rep = lint(prompt, LintContext(aspect_ratio="1:1"))
    assert rep.hints
    for h in rep.hints:
        assert h.rule and h.message and h.fix
        assert h.severity in ("error", "warning", "info")
        if h.span is not None:
            start, end = h.span
            assert 0 <= start <= end <= len(prompt)


def test_hints_are_sorted_by_span_start_then_rule_id() -> None:
    rep = lint("a beach, no people, seven balloons, no text, a sign that says Hello There")
    keys = [((h.span or (-1, -1))[0], h.rule) for h in rep.hints]
    assert keys == sorted(keys)


def test_strict_mode_raises_ambiguity_hints_one_level_and_leaves_the_rest() -> None:
    rep = lint("A sign that says Deep Learning, photorealistic watercolor, some dogs")
    strict = rep.strict()
    for before, after in zip(rep.hints, strict.hints, strict=True):
        if before.ambiguity:
            expected = {"info": "warning", "warning": "error", "error": "error"}[before.severity]
            assert after.severity == expected
        else:
            assert after.severity == before.severity
    assert rep.ok is True
    assert strict.ok is False
    assert {h.rule for h in strict.errors()} == {"text-unquoted", "style-conflict"}


def test_a_sparse_but_clear_prompt_passes_strict_mode() -> None:
    rep = lint("a tabby cat asleep on a windowsill at dawn")
    assert rep.ambiguous is False
    assert rep.strict().ok is True


def test_ambiguous_is_true_when_any_hint_is_an_ambiguity() -> None:
    assert lint("some dogs in a park").ambiguous is True
    assert lint("a tabby cat asleep on a windowsill at dawn, no people").ambiguous is False


def test_coverage_has_the_six_documented_keys() -> None:
    assert tuple(lint("a cat").coverage) == COVERAGE_KEYS
    assert tuple(lint("").coverage) == COVERAGE_KEYS


def test_the_report_round_trips_through_json() -> None:
    rep = lint("招牌上写着开业大吉，不要水印", LintContext(model="openai/gpt-image-1"))
    data = json.loads(rep.model_dump_json())
    assert LintReport.model_validate(data) == rep
    assert all(isinstance(LintHint.model_validate(h), LintHint) for h in data["hints"])


def test_non_string_input_does_not_raise() -> None:
    rep = lint(None)  # type: ignore[arg-type]
    assert [h.rule for h in rep.hints] == ["empty-prompt"]


def test_lexicons_are_package_data_loaded_through_importlib_resources() -> None:
    from importlib.resources import files

    folder = files("imagegen_mcp.lint").joinpath("lexicons")
    assert folder.joinpath("en.json").is_file()
    assert folder.joinpath("zh.json").is_file()
