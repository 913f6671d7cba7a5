"""Size, subject and coverage: empty-prompt, too-short, too-long, missing-*, vague-term, quality, keyword-list."""

from __future__ import annotations

import pytest

from .support import hints, report, rules, severities


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t", "...!?", "，。！", "“”"])
def test_empty_or_punctuation_only_prompts_are_an_error_and_nothing_else(prompt: str) -> None:
    rep = report(prompt)
    assert [h.rule for h in rep.hints] == ["empty-prompt"]
    assert rep.ok is False
    assert rep.errors()[0].severity == "error"


@pytest.mark.parametrize("prompt", ["bond", "a cat", "猫", "风景", "🐱🌙", "Octothorpe."])
def test_very_short_prompts_are_flagged(prompt: str) -> None:
    (hint,) = hints(prompt, "too-short")
    assert hint.severity == "warning"
    assert hint.ambiguity is True


@pytest.mark.parametrize("prompt", ["a tabby cat asleep on a windowsill at dawn", "清晨窗台上熟睡的虎斑猫"])
def test_specific_prompts_are_not_too_short(prompt: str) -> None:
    assert "too-short" not in rules(prompt)


@pytest.mark.parametrize(
    "prompt",
    ["cinematic, 8k, highly detailed, dramatic lighting, trending on artstation", "电影感，8K，超精细，逆光，氛围感"],
)
def test_style_terms_alone_have_no_subject(prompt: str) -> None:
    rep = report(prompt)
    assert "missing-subject" in {h.rule for h in rep.hints}
    assert rep.coverage["subject"] is False


@pytest.mark.parametrize(
    "prompt",
    [
        "a lighthouse on a cliff, cinematic, dramatic lighting",
        "悬崖上的灯塔，电影感，逆光",
        "a sunset",
        "猫",
        "42",
        "a TV",
    ],
)
def test_a_named_thing_is_a_subject(prompt: str) -> None:
    assert "missing-subject" not in rules(prompt)


@pytest.mark.parametrize(
    ("prompt", "missing", "present"),
    [
        ("a red fox in a snowy forest, watercolor", {"lighting", "composition"}, {"style", "setting", "subject"}),
        ("雪林中的红狐狸，水彩", {"lighting", "composition"}, {"style", "setting", "subject"}),
        (
            "close-up of a red fox in a snowy forest at golden hour, backlit, watercolor",
            set(),
            {"style", "setting", "composition", "lighting"},
        ),
        ("雪林中红狐狸的特写，黄金时刻逆光，水彩", set(), {"style", "setting", "composition", "lighting"}),
    ],
)
def test_coverage_reports_which_elements_are_present(prompt: str, missing: set[str], present: set[str]) -> None:
    rep = report(prompt)
    for key in present:
        assert rep.coverage[key] is True, key
    fired = {h.rule for h in rep.hints}
    for key in missing:
        assert rep.coverage[key] is False, key
        assert f"missing-{key}" in fired
    for key in present - {"subject"}:
        assert f"missing-{key}" not in fired
    assert all(not h.ambiguity for h in rep.hints if h.rule.startswith("missing-") and h.rule != "missing-subject")


def test_missing_lighting_is_a_warning_for_flux_only() -> None:
    prompt = "a red fox in a snowy forest, watercolor"
    assert severities(prompt, "missing-lighting", model="black-forest-labs/flux.2-pro") == {"warning"}
    assert severities(prompt, "missing-lighting", model="google/gemini-2.5-flash-image") == {"info"}


@pytest.mark.parametrize("prompt", ["a minimalist vector logo of a fox", "一个狐狸图标，扁平风格"])
def test_logos_and_icons_need_no_lighting_setting_or_mood(prompt: str) -> None:
    assert not rules(prompt) & {"missing-lighting", "missing-setting", "missing-mood"}


@pytest.mark.parametrize(
    ("prompt", "evidence"),
    [
        ("a beautiful, amazing landscape", "beautiful"),
        ("make it look better", "make it look better"),
        ("一张好看的风景图", "好看"),
        ("做一个高级感的logo", "高级感"),
    ],
)
def test_empty_evaluatives_are_vague(prompt: str, evidence: str) -> None:
    assert evidence in {h.evidence for h in hints(prompt, "vague-term")}


@pytest.mark.parametrize(
    "prompt",
    [
        "a fjord at dawn with mist over mirror-still water",
        "晨雾中的峡湾，水面如镜",
        "a street in Nice at dusk",
        "a beautiful fjord at golden hour, aerial view, oil painting",
    ],
)
def test_specific_prompts_and_proper_names_are_not_vague(prompt: str) -> None:
    assert "vague-term" not in rules(prompt)


@pytest.mark.parametrize(
    "prompt", ["masterpiece, best quality, ultra detailed, 8k, a castle", "杰作，最佳质量，8K，城堡"]
)
def test_quality_boosters_are_boilerplate(prompt: str) -> None:
    (hint,) = hints(prompt, "quality-boilerplate")
    assert hint.severity == "info"
    assert "城堡" in hint.fix or "a castle" in hint.fix


@pytest.mark.parametrize(
    "prompt", ["a castle, shot on medium-format film with fine grain", "中画幅胶片拍摄的城堡，细腻颗粒"]
)
def test_concrete_photographic_language_is_not_boilerplate(prompt: str) -> None:
    assert "quality-boilerplate" not in rules(prompt)


def test_quality_boilerplate_is_silent_for_imagen() -> None:
    assert "quality-boilerplate" not in rules("masterpiece, best quality, 8k, a castle", family="imagen")


@pytest.mark.parametrize(
    "prompt",
    [
        "1girl, solo, smile, blue eyes, school uniform, cherry blossoms, outdoors, highres",
        "1女孩，单独，微笑，蓝眼睛，校服，樱花，户外，高分辨率",
    ],
)
def test_tag_soup_is_a_keyword_list_except_for_openai_stability_and_midjourney(prompt: str) -> None:
    assert severities(prompt, "keyword-list") == {"info"}
    assert severities(prompt, "keyword-list", family="flux") == {"info"}
    for family in ("openai", "stability", "midjourney"):
        assert "keyword-list" not in rules(prompt, family=family)


@pytest.mark.parametrize(
    "prompt",
    [
        "A smiling schoolgirl with blue eyes stands under cherry blossoms.",
        "一个蓝眼睛的女学生站在樱花树下微笑。",
        "清晨，阳光洒进房间，一只猫在窗台上，伸着懒腰，旁边是一盆绿植，窗外是城市",
    ],
)
def test_prose_and_chinese_comma_clauses_are_not_keyword_lists(prompt: str) -> None:
    assert "keyword-list" not in rules(prompt)


def test_very_long_prompts_get_an_info_hint() -> None:
    long_en = " ".join(["a quiet harbor town with fishing boats and gulls"] * 50)  # 450 words
    assert severities(long_en, "too-long") == {"info"}
    assert "too-long" not in rules(" ".join(["a quiet harbor town with fishing boats"] * 8))  # 56 words
    long_zh = "清晨的港口小镇停着渔船海鸥在天空盘旋" * 45  # 810 Han characters
    assert severities(long_zh, "too-long") == {"info"}
    assert "too-long" not in rules("清晨的港口小镇停着渔船海鸥在天空盘旋" * 5)


def test_prompts_over_a_provider_hard_cap_are_an_error() -> None:
    prompt = "a quiet harbor town with fishing boats " * 30  # 1,170 characters
    (hint,) = hints(prompt, "too-long", model="openai/dall-e-2")
    assert hint.severity == "error"
    assert "1000 chars" in hint.message
    assert "too-long" not in rules(prompt, model="openai/gpt-image-1")
    assert severities("a harbor town " * 200, "too-long", model="black-forest-labs/flux-1.1-pro") == {"error"}
