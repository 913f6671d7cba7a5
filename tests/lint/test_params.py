"""Prompt text against request parameters: aspect ratio, orientation, foreign syntax, language."""

from __future__ import annotations

import pytest

from .support import hints, rules, severities


def test_a_ratio_in_the_text_that_fights_the_parameter_is_an_error() -> None:
    (hint,) = hints("cinematic 16:9 shot of a desert highway", "aspect-conflict", aspect_ratio="1:1")
    assert hint.severity == "error"
    assert hint.evidence == "16:9"
    assert 'aspect_ratio="16:9"' in hint.fix


def test_a_matching_ratio_is_quiet() -> None:
    found = rules("cinematic 16:9 shot of a desert highway", aspect_ratio="16:9")
    assert not found & {"aspect-conflict", "aspect-in-text", "orientation-mismatch"}


def test_a_size_parameter_is_compared_by_shape() -> None:
    assert "aspect-conflict" not in rules("cinematic 16:9 shot", aspect_ratio="1792x1008")
    assert "aspect-conflict" in rules("cinematic 16:9 shot", aspect_ratio="1024x1024")


@pytest.mark.parametrize(
    ("prompt", "aspect"),
    [("a tall vertical poster of a jazz night", "16:9"), ("竖版海报，爵士之夜", "16:9"), ("16:9宽屏电影画面", "9:16")],
)
def test_orientation_words_that_fight_the_parameter_are_flagged(prompt: str, aspect: str) -> None:
    assert "orientation-mismatch" in rules(prompt, aspect_ratio=aspect)


def test_a_chinese_ratio_that_fights_the_parameter_is_an_error() -> None:
    assert severities("16:9宽屏电影画面", "aspect-conflict", aspect_ratio="9:16") == {"error"}


@pytest.mark.parametrize("prompt", ["cinematic 16:9 shot of a desert highway", "a tall vertical poster", "横版海报"])
def test_ratio_or_orientation_without_a_parameter_points_to_the_parameter(prompt: str) -> None:
    (hint,) = hints(prompt, "aspect-in-text")
    assert hint.severity == "warning"
    assert "aspect_ratio" in hint.fix


@pytest.mark.parametrize(
    "prompt",
    [
        "a portrait of an old fisherman",
        "a clock showing 10:30",
        "the final score was 2:1",
        "meet me at 4:30 pm",
        "John 3:16 on a banner",
        'a sign that says "16:9"',
        "一位老渔夫的肖像",
        "时钟指向10:30",
        "a flag with three vertical stripes",
    ],
)
def test_portraits_clock_times_and_scores_are_not_aspect_ratios(prompt: str) -> None:
    for aspect in (None, "16:9", "9:16"):
        assert not rules(prompt, aspect_ratio=aspect) & {"aspect-conflict", "aspect-in-text", "orientation-mismatch"}


def test_midjourney_ar_is_info_for_midjourney_and_foreign_syntax_elsewhere() -> None:
    prompt = "epic castle --ar 16:9 --v 6"
    assert severities(prompt, "aspect-in-text", family="midjourney") == {"info"}
    assert "foreign-syntax" not in rules(prompt, family="midjourney")
    gemini = hints(prompt, "foreign-syntax", model="google/gemini-2.5-flash-image")
    assert [h.evidence for h in gemini] == ["--ar 16:9", "--v 6"]
    assert all(h.severity == "warning" for h in gemini)


@pytest.mark.parametrize(
    ("prompt", "evidence"),
    [
        ("(masterpiece:1.2), a knight", "(masterpiece:1.2)"),
        ("a castle ((intricate)) at night", "((intricate))"),
        ("a knight <lora:knight_v2:0.8> in armor", "<lora:knight_v2:0.8>"),
        ("a knight BREAK a dragon", "BREAK"),
        ("a castle, Negative prompt: blurry", "Negative prompt:"),
        ("(杰作:1.2)，城堡", "(杰作:1.2)"),
    ],
)
def test_webui_weight_syntax_is_foreign_to_hosted_apis(prompt: str, evidence: str) -> None:
    assert evidence in {h.evidence for h in hints(prompt, "foreign-syntax")}


@pytest.mark.parametrize(
    "prompt", ['a street sign for "Route 66"', "城堡，电影感", "a lunch break in the park", "a knight (in armor)"]
)
def test_ordinary_text_is_not_foreign_syntax(prompt: str) -> None:
    assert "foreign-syntax" not in rules(prompt)


def test_chinese_prompts_get_a_language_hint_only_where_english_is_documented() -> None:
    assert severities("一只猫在窗台上", "language-support", family="midjourney") == {"info"}
    assert "language-support" not in rules("一只猫在窗台上", model="google/gemini-3.1-flash-image-preview")
    assert "language-support" not in rules("一只猫在窗台上", model="openai/gpt-image-1")
    assert "language-support" not in rules("a cat on a windowsill", family="midjourney")
