"""edit-needs-baseline and edit-no-preserve: graded evidence, quiet with a baseline, 改变 vs 改成."""

from __future__ import annotations

import pytest

from .support import hints, report, rules, severities

EN_EDITS = [
    ("Change the background to a beach and keep everything else the same", "error"),
    ("make it brighter", "error"),
    ("make the sky more dramatic", "error"),
    ("edit this", "error"),
    ("Please remove the watermark from this photo", "error"),
    ("Turn this photo into a watercolor painting", "error"),
    (
        "Using the provided image of my cat, please add a small knitted wizard hat. Keep everything else unchanged.",
        "error",
    ),
    ("Remove the person on the left", "warning"),
    ("Replace the sky with a sunset", "warning"),
    ("Remove background", "warning"),
    ("make the background blue", "warning"),
    ("a variation of this photo", "warning"),
]
ZH_EDITS = [
    "把背景换成海滩，其余保持不变",
    "去掉图中的路人",
    "将这张照片改成水彩风格",
    "P掉水印",
    "换个发型",
    "把背景虚化一下",
    "帮我把天空调亮一点",
]
NOT_EDITS = [
    "Make a poster for a jazz night",
    "a changing room in a boutique",
    "a variation of the Mona Lisa in cubist style",
    "Place a warrior on a battlefield",
    "Crop circles in a wheat field at dawn",
    "Lower Manhattan skyline at dusk",
    "Mirror on the wall of an old castle",
    "Cut flowers in a glass vase",
    "Edit suite with monitors and a mixing desk",
    "Change of seasons in a forest",
    "A photo of a dragonfly made of water",
    "改变世界的一只猫",
    "一只变成龙的猫在城市上空飞翔",
    "请以野兽派风格生成这张照片",
    "放大镜下的蚂蚁",
    "一把椅子换了新的坐垫的房间",
    "将军骑着马穿过沙漠",
]


@pytest.mark.parametrize(("prompt", "severity"), EN_EDITS)
def test_english_edit_requests_without_a_baseline_are_flagged_by_evidence_strength(prompt: str, severity: str) -> None:
    rep = report(prompt)
    assert rep.edit_intent is True
    assert severities(prompt, "edit-needs-baseline") == {severity}


@pytest.mark.parametrize("prompt", ZH_EDITS)
def test_chinese_edit_requests_are_flagged_at_warning_until_a_labeled_set_exists(prompt: str) -> None:
    rep = report(prompt)
    assert rep.edit_intent is True
    (hint,) = hints(prompt, "edit-needs-baseline")
    assert hint.severity == "warning"
    assert hint.lang == "zh"
    assert hint.ambiguity is True


@pytest.mark.parametrize("prompt", NOT_EDITS)
def test_generation_prompts_are_not_edits(prompt: str) -> None:
    rep = report(prompt)
    assert rep.edit_intent is False
    assert "edit-needs-baseline" not in rules(prompt)


def test_deixis_alone_is_only_an_info_hint_and_not_edit_intent() -> None:
    rep = report("In this image we can see a cat on a sofa")
    assert rep.edit_intent is False
    assert severities("In this image we can see a cat on a sofa", "edit-needs-baseline") == {"info"}


@pytest.mark.parametrize("prompt", [p for p, _ in EN_EDITS] + ZH_EDITS)
def test_edit_requests_are_quiet_with_a_baseline_but_keep_edit_intent(prompt: str) -> None:
    rep = report(prompt, has_baseline=True)
    assert rep.edit_intent is True
    assert "edit-needs-baseline" not in {h.rule for h in rep.hints}


def test_strict_mode_turns_an_edit_warning_into_an_error() -> None:
    rep = report("Remove the person on the left")
    assert rep.ok is True
    assert rep.strict().ok is False


def test_an_edit_with_a_baseline_and_no_preserve_clause_gets_a_hint() -> None:
    assert severities("make the sky more dramatic", "edit-no-preserve", has_baseline=True) == {"info"}
    assert "edit-no-preserve" not in rules("Change only the sky; keep everything else unchanged", has_baseline=True)
    assert "edit-no-preserve" in rules("把背景换成海滩", has_baseline=True)
    assert "edit-no-preserve" not in rules("把背景换成海滩，其余保持不变", has_baseline=True)
    assert "edit-no-preserve" not in rules("make the sky more dramatic")


def test_edits_do_not_get_generation_coverage_hints() -> None:
    found = rules("make the sky more dramatic")
    assert not {r for r in found if r.startswith("missing-")}
    assert "too-short" not in found
