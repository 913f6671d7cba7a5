"""negative-phrasing: provider-aware, never a bare 无, nothing inside quotes."""

from __future__ import annotations

import pytest

from .support import hints, rules, severities

POSITIVE = [
    ("a beach at sunset, no people", "no people"),
    ("product photo, no text, no watermark", "no text"),
    ("a man without glasses", "without glasses"),
    ("a concert without any fans", "without any fans"),
    ("a clock with no hands", "no hands"),
    ("The trophy doesn't fit into the brown suitcase", "doesn't fit"),
    ("日落时的海滩，没有人", "没有人"),
    ("产品图，不要文字，不要水印", "不要文字"),
    ("一张海报，避免使用红色", "避免使用红色"),
    ("无人的街道，清晨", "无人"),
]
NEGATIVE = [
    "a bottle of No. 5 perfume",
    'a "No Parking" sign',
    "nothing but blue sky above the dunes",
    "not only a cat but also a dog",
    "a group of not more than five meerkats",
    "无人机航拍的海岸线",
    "无缝拼接的花卉纹理",
    "无限延伸的走廊",
    "写着“禁止停车”的标志",
    "一座别墅，特别安静",
    "a notebook on a desk",
    "a knotted rope",
]


@pytest.mark.parametrize(("prompt", "evidence"), POSITIVE)
def test_negated_objects_are_flagged(prompt: str, evidence: str) -> None:
    found = hints(prompt, "negative-phrasing")
    assert found
    assert evidence in {h.evidence for h in found}
    for h in found:
        assert h.span is not None and prompt[h.span[0] : h.span[1]] == h.evidence


@pytest.mark.parametrize("prompt", NEGATIVE)
def test_fixed_phrases_quotes_and_drones_are_not_negation(prompt: str) -> None:
    assert "negative-phrasing" not in rules(prompt)


def test_each_negation_gets_its_own_hint() -> None:
    assert len(hints("product photo, no text, no watermark", "negative-phrasing")) == 2
    assert len(hints("产品图，不要文字，不要水印", "negative-phrasing")) == 2


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("google/gemini-2.5-flash-image", "warning"),
        ("black-forest-labs/flux.2-pro", "warning"),
        ("some/unknown-model", "warning"),
        ("openai/gpt-image-1", "info"),
    ],
)
def test_negation_is_a_warning_except_for_openai_which_asks_for_explicit_exclusions(model: str, expected: str) -> None:
    assert severities("a beach at sunset, no people", "negative-phrasing", model=model) == {expected}


def test_the_fix_is_a_positive_rewrite_for_known_nouns() -> None:
    (hint,) = hints("a beach at sunset, no people", "negative-phrasing")
    assert "empty, deserted" in hint.fix
    assert "a beach at sunset" in hint.fix


def test_absence_as_content_gets_a_positive_description_suggestion() -> None:
    (hint,) = hints("a harp without any strings", "negative-phrasing")
    assert "unstrung" in hint.fix


def test_midjourney_gets_the_no_parameter_and_stability_the_negative_prompt_field() -> None:
    (mj,) = hints("a beach at sunset, no people", "negative-phrasing", family="midjourney")
    assert "--no people" in mj.fix
    (sd,) = hints("a beach at sunset, no people", "negative-phrasing", family="stability")
    assert "negative_prompt" in sd.fix


def test_chinese_negation_gets_a_chinese_rewrite() -> None:
    (hint,) = hints("日落时的海滩，没有人", "negative-phrasing")
    assert hint.lang == "zh"
    assert "空无一人" in hint.fix
