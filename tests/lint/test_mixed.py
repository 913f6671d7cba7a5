"""Mixed English/Chinese prompts, full-width punctuation and span mapping back to the original string."""

from __future__ import annotations

import pytest

from .support import hints, report, rules


def test_english_and_chinese_rules_both_run_on_a_mixed_prompt() -> None:
    found = rules("一只cat在 neon 街道上, cinematic lighting, no people, 不要文字")
    assert "negative-phrasing" in found
    negations = {
        h.evidence for h in hints("一只cat在 neon 街道上, cinematic lighting, no people, 不要文字", "negative-phrasing")
    }
    assert negations == {"no people", "不要文字"}


def test_han_characters_act_as_word_boundaries_for_english_terms() -> None:
    rep = report("一只cat在neon街道上，cinematic lighting")
    assert rep.coverage["lighting"] is True
    assert rep.coverage["subject"] is True


def test_english_words_after_a_chinese_text_cue_are_the_text() -> None:
    (hint,) = hints("海报上写着 Grand Opening，红色大字", "text-unquoted")
    assert hint.evidence == "Grand Opening"


def test_chinese_words_after_an_english_cue_are_the_text() -> None:
    (hint,) = hints("a sign that says 开业大吉 in red", "text-unquoted")
    assert hint.evidence == "开业大吉"


@pytest.mark.parametrize(
    "prompt",
    ["招牌上写着＂开业大吉＂", "a sign that says ＂OPEN＂", "招牌上写着「开业大吉」", "招牌上写着『开业大吉』"],
)
def test_full_width_and_corner_quotes_delimit_text(prompt: str) -> None:
    rep = report(prompt)
    assert rep.text_intent is True
    assert "text-unquoted" not in {h.rule for h in rep.hints}


def test_a_full_width_colon_ratio_is_read_after_nfkc() -> None:
    (hint,) = hints("电影画面，16：9", "aspect-conflict", aspect_ratio="1:1")
    assert hint.evidence == "16：9"


def test_spans_point_into_the_original_string_even_when_nfkc_changes_its_length() -> None:
    prompt = "ﬁne art ﬁeld, a sign that says Deep Learning"  # each ligature becomes two letters under NFKC
    (hint,) = hints(prompt, "text-unquoted")
    assert hint.span is not None
    assert prompt[hint.span[0] : hint.span[1]] == "Deep Learning"


def test_combining_marks_stay_with_their_letter_in_spans() -> None:
    prompt = "a cafe\u0301 sign that says Bonjour Paris"
    (hint,) = hints(prompt, "text-unquoted")
    assert hint.span is not None
    assert prompt[hint.span[0] : hint.span[1]] == "Bonjour Paris"


def test_mixed_edit_and_negation() -> None:
    rep = report("把背景换成 beach，no people")
    assert rep.edit_intent is True
    assert "negative-phrasing" in {h.rule for h in rep.hints}
