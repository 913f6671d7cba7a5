"""Text to render: text-unquoted, text-too-long, text-no-typography, text intent."""

from __future__ import annotations

import pytest

from imagegen_mcp.lint.doc import find_literals

from .support import hints, report, rules, severities

UNQUOTED_EN = [
    ("A sign that says Deep Learning", "Deep Learning"),
    ("a t-shirt with Carpe Diem written on it", "Carpe Diem"),
    ("a dog wearing a baseball cap backwards and writing BONEZ on a chalkboard", "BONEZ"),
    ("graffiti spelling BE KIND on white subway tile", "BE KIND"),
    ("a yellow wall with the word KA-BOOM on it", "KA-BOOM"),
    ("the letters P A X forming a very simple outline of an elephant", "P A X"),
    ("a kangaroo holding a sign on the chest that says Welcome Friends!", "Welcome Friends!"),
    ("a neon sign reading OPEN in pink script", "OPEN"),
    ("a cat patting a crystal ball with the number 7 written on it", "7"),
    ("a grumpy porcupine handing a check for $10,000 to a peacock", "$10,000"),
]
UNQUOTED_ZH = [
    ("招牌上写着开业大吉", "开业大吉"),
    ("海报标题为夏日音乐节", "夏日音乐节"),
    ("蛋糕上写着生日快乐，粉色奶油", "生日快乐"),
]
QUIET = [
    'A sign that says "Deep Learning"',
    "A sign that says 'Deep Learning'.",
    "a skateboard with a yin-yang symbol on it",
    "a book with the words 'Don't Panic!' written on it",
    "the word ‘openai’ written on a store front",
    '"G I G G L E" painted in thick colorful lettering as graffiti on a brick wall',
    "a cat reading a book",
    "a man writing a letter at his desk",
    "a wizard casting spells in a tower",
    "A shiny VW van with a cityscape painted on it",
    "a van with flowers painted on it",
    "A photo of the Space Shuttle Endeavor painted yellow",
    "product photo, no text, no watermark",
    "招牌上写着“开业大吉”",
    "海报标题为《夏日音乐节》",
    "一面印有太极图案的旗子",
    "产品图，不要文字",
    "招牌上写着＂开业大吉＂",
    "a minimalist logo for a coffee shop called 'The Daily Grind'. The text should be in a bold sans-serif font.",
]


@pytest.mark.parametrize(("prompt", "words"), UNQUOTED_EN + UNQUOTED_ZH)
def test_unquoted_sign_text_is_flagged_with_the_words_quoted_in_the_fix(prompt: str, words: str) -> None:
    found = hints(prompt, "text-unquoted")
    assert len(found) == 1
    hint = found[0]
    assert hint.evidence == words
    assert hint.span is not None and prompt[hint.span[0] : hint.span[1]] == words
    assert words in hint.fix and ('"' + words + '"' in hint.fix or "“" + words + "”" in hint.fix)
    assert hint.ambiguity is True


@pytest.mark.parametrize("prompt", QUIET)
def test_quoted_text_and_symbols_are_not_flagged_as_unquoted(prompt: str) -> None:
    assert "text-unquoted" not in rules(prompt)


@pytest.mark.parametrize(("prompt", "_words"), UNQUOTED_ZH)
def test_chinese_unquoted_text_is_reported_in_chinese(prompt: str, _words: str) -> None:
    (hint,) = hints(prompt, "text-unquoted")
    assert hint.lang == "zh"
    assert "引号" in hint.fix


def test_all_caps_text_counts_as_delimited_for_openai_only() -> None:
    prompt = "a yellow wall with the word KA-BOOM on it"
    assert severities(prompt, "text-unquoted", model="openai/gpt-image-1") == {"info"}
    assert severities(prompt, "text-unquoted", model="google/gemini-2.5-flash-image") == {"warning"}
    assert severities(prompt, "text-unquoted", model="black-forest-labs/flux.2-pro") == {"warning"}


def test_a_text_cue_without_words_asks_for_them() -> None:
    (hint,) = hints("a note with a message written on it", "text-unquoted")
    assert "quotes" in hint.fix


def test_unquoted_words_do_not_count_as_negation_or_counts() -> None:
    found = rules("Gandalf saying you shall not pass")
    assert "text-unquoted" in found
    assert "negative-phrasing" not in found


def test_an_apostrophe_inside_a_single_quoted_literal_does_not_end_it() -> None:
    (lit,) = find_literals("a book with the words 'Don't Panic!' written on it")
    assert lit.value == "Don't Panic!"
    assert find_literals("a kids' book and Lincoln's hat") == ()


@pytest.mark.parametrize(
    "prompt",
    [
        'a poster that says "Summer never felt so good, come join us at the beach this weekend"',
        "海报上写着“欢迎来到二零二五年夏季国际音乐节开幕式现场”",
        'labels "ONE", "TWO", "THREE" and "FOUR" on four boxes',
    ],
)
def test_long_or_many_texts_get_text_too_long(prompt: str) -> None:
    assert "text-too-long" in rules(prompt)


@pytest.mark.parametrize(
    "prompt",
    ['a neon sign reading "OPEN" in pink script, centred above the door', "门上方居中的粉色霓虹手写体招牌写着“营业中”"],
)
def test_short_styled_text_is_neither_too_long_nor_missing_typography(prompt: str) -> None:
    found = rules(prompt)
    assert "text-too-long" not in found
    assert "text-no-typography" not in found
    assert "text-unquoted" not in found


def test_text_too_long_is_a_warning_for_imagen_and_flux_and_info_elsewhere() -> None:
    prompt = 'a poster that says "Summer never felt so good, come join us at the beach"'
    assert severities(prompt, "text-too-long", family="imagen") == {"warning"}
    assert severities(prompt, "text-too-long", model="black-forest-labs/flux-1.1-pro") == {"warning"}
    assert severities(prompt, "text-too-long", model="openai/gpt-image-1") == {"info"}


@pytest.mark.parametrize("prompt", ['a sign that says "OPEN"', "招牌上写着“开业大吉”", "海报标题为《夏日音乐节》"])
def test_text_without_font_size_colour_or_placement_gets_a_typography_hint(prompt: str) -> None:
    assert severities(prompt, "text-no-typography") == {"info"}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("A sign that says 'Hello World'.", True),
        ("A sign that says Deep Learning", True),
        ("招牌上写着开业大吉", True),
        ("a black t-shirt with the peace sign on it", False),
        ("a coffee mug with an ankh symbol on it", False),
        ("a cat reading a newspaper", False),
        ("一面印有太极图案的旗子", False),
        ("a beach, no text", False),
    ],
)
def test_text_intent_is_a_cue_or_a_quoted_literal(prompt: str, expected: bool) -> None:
    assert report(prompt).text_intent is expected
