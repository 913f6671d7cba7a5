"""count-present, vague-plural, image-count-in-text."""

from __future__ import annotations

import pytest

from .support import hints, rules, severities


@pytest.mark.parametrize(
    ("prompt", "severity"),
    [
        ("seven red balloons tied to a bench", "warning"),
        ("two cats sitting on the grass", "info"),
        ("One car on the street.", "info"),
        ("a family of four posing on the moon", "info"),
        ("three black cats standing next to two orange cats and one dog", "warning"),
        ("300 movie titles", "warning"),
        ("七个红气球系在长椅上", "warning"),
        ("两只猫坐在草地上", "info"),
        ("一对情侣在海边散步", "info"),
        ("兄弟俩在踢足球", "info"),
    ],
)
def test_explicit_counts_are_reported_with_severity_by_size(prompt: str, severity: str) -> None:
    assert severities(prompt, "count-present") == {severity}


@pytest.mark.parametrize(
    "prompt",
    [
        "a 4K photo of a cat",
        "in 1999, a street full of cars",
        "a clock showing 10:30",
        "a 35mm photo of a 3-story house",
        "a blue Porsche 911 parked in front of a wall",
        "a cat with the number 7 written on it",
        'a sign that says "7 DAYS"',
        "One morning I chased an elephant",
        "a cat, one of the best",
        "一只猫在窗台上",
        "一起去海边",
        "2025年的街景",
        "三点钟的钟楼",
        "四面八方的风",
        "招牌上写着“三个和尚”",
    ],
)
def test_years_units_times_quotes_and_articles_are_not_counts(prompt: str) -> None:
    assert "count-present" not in rules(prompt)


def test_the_evidence_names_each_counted_group() -> None:
    (hint,) = hints("ten triangles and five squares on a black background", "count-present")
    assert hint.evidence == "ten triangles; five squares"
    assert hint.span == (0, 3)


@pytest.mark.parametrize(
    ("prompt", "evidence"),
    [
        ("some dogs in a park", "some"),
        ("several people putting their hands on a basketball", "several"),
        ("a pile of cash on a wooden table", "a pile of"),
        ("a crowd of people watching fireworks", "a crowd of"),
        ("an owl family in the forest", "an owl family"),
        ("公园里有一些狗", "一些"),
        ("一群鸽子飞过广场", "一群"),
        ("许多灯笼挂在街上", "许多"),
    ],
)
def test_vague_plurals_ask_for_a_number(prompt: str, evidence: str) -> None:
    (hint,) = hints(prompt, "vague-plural")
    assert hint.evidence == evidence
    assert hint.severity == "info"
    assert hint.ambiguity is True


@pytest.mark.parametrize(
    "prompt",
    ["a family of four posing at the beach", "a family portrait", "something on the table", "一只猫在窗台上"],
)
def test_explicit_or_singular_phrases_are_not_vague_plurals(prompt: str) -> None:
    assert "vague-plural" not in rules(prompt)


@pytest.mark.parametrize(
    ("prompt", "n"),
    [
        ("generate 4 images of a cat", "n=4"),
        ("Give me three variations of a logo for a bakery", "n=3"),
        ("生成四张猫的图片", "n=4"),
        ("给我3张海报", "n=3"),
    ],
)
def test_image_counts_in_the_prompt_point_to_the_n_parameter(prompt: str, n: str) -> None:
    (hint,) = hints(prompt, "image-count-in-text")
    assert hint.severity == "warning"
    assert n in hint.fix
    assert "count-present" not in rules(prompt)


def test_a_grid_or_collage_keeps_the_image_count_at_info() -> None:
    assert severities("generate 4 images in a 2x2 grid collage", "image-count-in-text") == {"info"}
    assert severities("生成四张图，九宫格拼图", "image-count-in-text") == {"info"}


def test_a_grid_of_four_seasons_is_not_an_image_count() -> None:
    found = rules("a 2x2 grid collage of four seasons")
    assert "image-count-in-text" not in found
    assert severities("a 2x2 grid collage of four seasons", "count-present") == {"info"}


def test_an_image_count_matching_the_n_parameter_is_only_info() -> None:
    assert severities("generate 4 images of a cat", "image-count-in-text", count=4) == {"info"}
