"""The lexicon files are valid, readable data: every entry compiles, Chinese keys are multi-character."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

import pytest

from imagegen_mcp.lint import lexicon

# Strings of single characters by design (character classes), not phrase lists.
_CHAR_STRINGS = {"stop_chars", "numerals", "classifiers", "pair_classifiers"}
# Chinese single characters that must never be a lexicon key on their own.
_FORBIDDEN_ZH = {"改", "无", "無", "图", "圖", "光", "字", "别", "別", "不", "一"}


def _load(lang: str) -> dict[str, Any]:
    data = json.loads(files("imagegen_mcp.lint").joinpath("lexicons", f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _lists(node: Any, path: str = "") -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if not key.startswith("_"):
                out.extend(_lists(value, f"{path}.{key}" if path else key))
    elif isinstance(node, list) and all(isinstance(x, str) for x in node):
        out.append((path, node))
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_lexicon_entry_compiles(lang: str) -> None:
    for key, items in _lists(_load(lang)):
        for item in items:
            if item.startswith("re:"):
                re.compile(item[3:])
        lexicon.compile_terms(lang, tuple(items))  # the assembled alternation compiles too
        assert key


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_list_repeats_an_entry(lang: str) -> None:
    for key, items in _lists(_load(lang)):
        dupes = {x for x in items if items.count(x) > 1}
        assert not dupes, (key, dupes)


def test_chinese_keys_are_never_a_lone_ambiguous_character() -> None:
    for key, items in _lists(_load("zh")):
        if key in ("text_symbol_words", "realism_painting", "text_negators"):
            continue  # used only next to other context (a symbol noun after 印有, 画 right after a medium)
        for item in items:
            assert item not in _FORBIDDEN_ZH, (key, item)


def test_character_class_strings_are_plain_strings() -> None:
    data = _load("zh")
    for key in _CHAR_STRINGS:
        assert isinstance(data[key], str) and data[key]


def test_the_documented_chinese_traps_are_in_the_data() -> None:
    zh = _load("zh")
    negation = " ".join(zh["negation"])
    assert "人(?!机" in negation  # 无人机 is a drone
    assert "改成" in zh["edit_verbs"] and "改变" not in zh["edit_verbs"]
