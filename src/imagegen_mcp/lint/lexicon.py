"""Lexicons: the JSON word lists in ``lexicons/`` and the regular expressions built from them.

Everything is loaded lazily and cached, so importing the package costs nothing until the first lint.
Entry syntax (documented in each JSON file's ``_about``): a plain phrase, or ``re:`` + a regular
expression. English phrases match as whole words, case-insensitively; Chinese ones as substrings.
"""

from __future__ import annotations

import functools
import json
import re

EN_LETTER = "A-Za-z0-9\u00c0-\u024f"
"""Characters that may not touch an English term (so Han characters act as word boundaries)."""
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{HAN}]")

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


@functools.cache
def load(lang: str) -> dict[str, JSONValue]:
    """The parsed lexicon file ``lexicons/<lang>.json``."""
    from importlib.resources import files

    text = files(__package__).joinpath("lexicons", f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):  # pragma: no cover - guarded by tests
        raise ValueError(f"lexicon {lang}.json must hold an object")
    return data


def _get(lang: str, key: str) -> JSONValue:
    node: JSONValue = load(lang)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{lang}.json has no {key!r}")
        node = node[part]
    return node


@functools.cache
def terms(lang: str, key: str) -> tuple[str, ...]:
    """A list of strings from the lexicon (dotted keys reach into objects)."""
    node = _get(lang, key)
    if not isinstance(node, list):
        raise TypeError(f"{lang}.json {key!r} is not a list")
    return tuple(str(x) for x in node)


@functools.cache
def text(lang: str, key: str) -> str:
    """A string value from the lexicon."""
    node = _get(lang, key)
    if not isinstance(node, str):
        raise TypeError(f"{lang}.json {key!r} is not a string")
    return node


@functools.cache
def mapping(lang: str, key: str) -> dict[str, str | int]:
    """An object of strings or numbers from the lexicon."""
    node = _get(lang, key)
    if not isinstance(node, dict):
        raise TypeError(f"{lang}.json {key!r} is not an object")
    out: dict[str, str | int] = {}
    for k, v in node.items():
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise TypeError(f"{lang}.json {key}.{k} must be a string or an integer")
        out[k] = v
    return out


@functools.cache
def groups(lang: str, key: str) -> tuple[str, ...]:
    """The keys of an object of lists (e.g. the style-conflict groups), in file order."""
    node = _get(lang, key)
    if not isinstance(node, dict):
        raise TypeError(f"{lang}.json {key!r} is not an object")
    return tuple(node)


def _en_phrase(term: str) -> str:
    out: list[str] = []
    for ch in term:
        if ch == " ":
            out.append(r"[\s\-]+")
        elif ch == "-":
            out.append(r"[\s\-]?")
        elif ch in "'’":
            out.append("['’]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def alternation(lang: str, items: tuple[str, ...]) -> str:
    """One regex alternation of lexicon entries, longest first (ties alphabetical, for determinism)."""
    parts: list[tuple[int, str]] = []
    for item in items:
        if item.startswith("re:"):
            parts.append((len(item) - 3, item[3:]))
        elif lang == "en":
            parts.append((len(item), _en_phrase(item)))
        else:
            parts.append((len(item), re.escape(item)))
    parts.sort(key=lambda p: (-p[0], p[1]))
    return "|".join(f"(?:{p})" for _, p in parts) or "(?!)"


@functools.cache
def compile_terms(lang: str, items: tuple[str, ...], plural: bool = False) -> re.Pattern[str]:
    """Compile lexicon entries into one pattern (whole words for English)."""
    alt = alternation(lang, items)
    if lang == "en":
        suffix = "(?:e?s)?" if plural else ""
        return re.compile(f"(?<![{EN_LETTER}])(?:{alt}){suffix}(?![{EN_LETTER}])", re.IGNORECASE)
    return re.compile(f"(?:{alt})", re.IGNORECASE)


def pattern(lang: str, key: str, plural: bool = False) -> re.Pattern[str]:
    """The compiled pattern for one lexicon list."""
    return compile_terms(lang, terms(lang, key), plural)


@functools.cache
def anchored(lang: str, key: str, where: str) -> re.Pattern[str]:
    """A lexicon list compiled to match at the start (``where="start"``) or end (``"end"``) of a string."""
    alt = alternation(lang, terms(lang, key))
    if lang == "en":
        body = f"(?:{alt})"
        if where == "start":
            return re.compile(rf"\s*(?:{body})(?![{EN_LETTER}])", re.IGNORECASE)
        return re.compile(rf"(?<![{EN_LETTER}])(?:{body})\s*$", re.IGNORECASE)
    if where == "start":
        return re.compile(f"(?:{alt})")
    return re.compile(f"(?:{alt})$")
