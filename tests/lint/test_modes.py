"""Lint knows the edit modes: inpaint prompts describe the masked area, outpaint prompts the extension;
a mask or a canvas keeps the rest, so edit-no-preserve is for free edits only."""

from __future__ import annotations

import pytest

from imagegen_mcp.lint.rails import Rails, apply_rails

from .support import rules


@pytest.mark.parametrize(
    "prompt",
    [
        "a photo of a cosy living room with a round window",
        "the whole picture should look like autumn, with a round window",
        "整张图是一个客厅，有一扇圆窗",
    ],
)
def test_an_inpaint_prompt_describing_the_whole_picture_is_flagged(prompt: str) -> None:
    assert "inpaint-whole-picture" in rules(prompt, operation="inpaint", has_baseline=True)


def test_an_inpaint_prompt_describing_the_area_is_quiet() -> None:
    found = rules("a round wooden window with a brass frame", operation="inpaint", has_baseline=True)
    assert "inpaint-whole-picture" not in found and "edit-no-preserve" not in found


def test_the_same_words_are_quiet_outside_inpaint() -> None:
    assert "inpaint-whole-picture" not in rules("a photo of a cosy living room with a round window")


@pytest.mark.parametrize("prompt", ["make the sky darker", "Remove the car and extend the beach"])
def test_an_outpaint_prompt_that_changes_the_picture_is_flagged(prompt: str) -> None:
    assert "outpaint-not-extension" in rules(prompt, operation="outpaint", has_baseline=True)


def test_an_outpaint_prompt_describing_the_extension_is_quiet() -> None:
    found = rules("more sandy beach and a calm sea to the right", operation="outpaint", has_baseline=True)
    assert "outpaint-not-extension" not in found and "edit-no-preserve" not in found


def test_edit_no_preserve_still_speaks_for_free_edits() -> None:
    assert "edit-no-preserve" in rules("make the sky more dramatic", operation="edit", has_baseline=True)


def test_modes_other_than_edit_get_only_the_rails_the_caller_set() -> None:
    prompt, applied = apply_rails("a round window", Rails(must_keep=("the cat",)), True, defaults=False)
    assert applied == ["must_keep:the cat"] and "the cat" in prompt and "palette" not in prompt
    assert apply_rails("a round window", Rails(), True, defaults=False) == ("a round window", [])
    _, default = apply_rails("make it autumn", Rails(), True)
    assert default == ["variation:low", "lock_palette", "lock_composition"]
