"""style-conflict (odd content is not a style conflict) and binding-risk."""

from __future__ import annotations

import pytest

from .support import hints, rules

CONFLICTS = [
    ("photorealistic watercolor portrait of a fox", "photorealistic / watercolor"),
    ("extreme close-up aerial view of a city", "extreme close-up / aerial view"),
    ("a pixel art oil painting of a harbor", "pixel art / oil painting"),
    ("a city street at noon under a starry sky", "noon / starry sky"),
    ("a black and white photo with vibrant colors", "black and white / vibrant colors"),
    ("超写实水彩风格的狐狸肖像", "超写实 / 水彩"),
    ("黑白色彩鲜艳的街景", "黑白 / 色彩鲜艳"),
    ("微距航拍的城市", "微距 / 航拍"),
]
NOT_CONFLICTS = [
    "a photograph of a watercolor painting hanging in a gallery",
    "hyperrealistic oil painting of a pear",
    "an anime oil painting of a heavy metal tiger",
    "an oil painting in the style of pixel art",
    "mixed media collage: photo meets watercolor",
    "a black and white cat on a rainbow-colored rug",
    "Turn this photo into a watercolor painting",
    "一张挂在画廊里的水彩画的照片",
    "写实风格油画，一只梨",
    "黑白相间的猫在彩虹色的地毯上",
    "照片与水彩融合的混合媒介作品",
    # DrawBench "Conflicting" is about odd content, not styles
    "A horse riding an astronaut.",
    "A pizza cooking an oven.",
    "A blue coloured pizza.",
    "Rainbow coloured penguin.",
    "A shark in the desert.",
]


@pytest.mark.parametrize(("prompt", "evidence"), CONFLICTS)
def test_mutually_exclusive_styles_are_flagged(prompt: str, evidence: str) -> None:
    (hint,) = hints(prompt, "style-conflict")
    assert hint.evidence == evidence
    assert hint.severity == "warning"
    assert hint.ambiguity is True


@pytest.mark.parametrize("prompt", NOT_CONFLICTS)
def test_artwork_objects_blends_and_odd_content_are_not_style_conflicts(prompt: str) -> None:
    assert "style-conflict" not in rules(prompt)


def test_the_fix_offers_both_single_style_versions() -> None:
    (hint,) = hints("photorealistic watercolor portrait of a fox", "style-conflict")
    assert '"photorealistic portrait of a fox"' in hint.fix
    assert '"watercolor portrait of a fox"' in hint.fix


@pytest.mark.parametrize("prompt", ["a red cube and a blue sphere", "一个红色立方体和一个蓝色球体"])
def test_two_objects_with_their_own_colours_risk_attribute_binding(prompt: str) -> None:
    assert "binding-risk" in rules(prompt)


@pytest.mark.parametrize(
    "prompt",
    ["a red cube", "一个红色立方体", "a blue metallic sphere", "a glass of orange juice", "a red fox at golden hour"],
)
def test_one_coloured_object_is_not_a_binding_risk(prompt: str) -> None:
    assert "binding-risk" not in rules(prompt)


def test_a_long_style_conflict_fix_is_cut_between_words() -> None:
    prompt = (
        "A photograph of an old stone lighthouse standing on a windswept granite cliff above a stormy grey sea "
        "at dusk with seabirds wheeling overhead, watercolor"
    )
    (hint,) = hints(prompt, "style-conflict")
    quoted = hint.fix.split('"')[1::2]
    cut = [q for q in quoted if q.endswith("…")]
    assert cut, hint.fix
    words = set(prompt.replace(",", " ").split())
    for q in cut:
        assert q[:-1].split()[-1] in words, hint.fix  # the last word before "…" is whole
