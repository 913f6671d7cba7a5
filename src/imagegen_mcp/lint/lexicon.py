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


_SPACE = r"[\s\-]+"
_HYPHEN = r"[\s\-]?"
_APOSTROPHE = "['’]"


def _atoms(lang: str, term: str) -> list[str]:
    """A phrase as a list of regex atoms (one per character; English spacing is flexible)."""
    if lang != "en":
        return [re.escape(ch) for ch in term]
    out: list[str] = []
    for ch in term:
        if ch == " ":
            out.append(_SPACE)
        elif ch == "-":
            out.append(_HYPHEN)
        elif ch in "'’":
            out.append(_APOSTROPHE)
        else:
            out.append(re.escape(ch))
    return out


def _trie(seqs: list[list[str]]) -> str:
    """A regex for a set of atom sequences, factored as a trie (compiles and matches faster than a flat
    alternation); at every node the longer continuation is tried first, so the longest term wins."""
    root: dict[str, dict[str, object]] = {}
    for seq in seqs:
        node = root
        for atom in seq:
            node = node.setdefault(atom, {})  # type: ignore[assignment]
        node[""] = {}

    def emit(node: dict[str, object]) -> str:
        kids = sorted(k for k in node if k)
        if not kids:
            return ""
        parts = [k + emit(node[k]) for k in kids]  # type: ignore[arg-type]
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)  # type: ignore[arg-type]


def alternation(lang: str, items: tuple[str, ...]) -> str:
    """One regex for lexicon entries: the ``re:`` entries first, then the phrases as a trie."""
    regexes = sorted({item[3:] for item in items if item.startswith("re:")}, key=lambda p: (-len(p), p))
    plain = [_atoms(lang, item) for item in dict.fromkeys(items) if item and not item.startswith("re:")]
    parts = [f"(?:{p})" for p in regexes]
    if plain:
        parts.append(f"(?:{_trie(plain)})")
    return "|".join(parts) or "(?!)"


@functools.cache
def compile_terms(lang: str, items: tuple[str, ...], plural: bool = False) -> re.Pattern[str]:
    """Compile lexicon entries into one pattern (whole words for English)."""
    alt = alternation(lang, items)
    if lang == "en":
        suffix = "(?:e?s)?" if plural else ""
        return re.compile(f"(?<![{EN_LETTER}])(?:{alt}){suffix}(?![{EN_LETTER}])", re.IGNORECASE)
    return re.compile(f"(?:{alt})", re.IGNORECASE)


@functools.cache
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


_KEY_STRIP = re.compile(r"[\s\-'’]+")


def term_key(s: str) -> str:
    """Lookup key of a matched phrase: lower case, no spaces, hyphens or apostrophes."""
    return _KEY_STRIP.sub("", s.lower())


@functools.cache
def vocabulary(
    lang: str, keys: tuple[str, ...]
) -> tuple[re.Pattern[str], dict[str, frozenset[str]], tuple[tuple[re.Pattern[str], str], ...]]:
    """One pattern for several lexicon lists, plus how to tell which lists a match came from.

    Scanning once with the union is much faster than one search per list. Returns the pattern, a map
    from :func:`term_key` to list names, and the ``re:`` entries (checked with ``fullmatch``).
    """
    owners: dict[str, set[str]] = {}
    regexes: list[tuple[re.Pattern[str], str]] = []
    items: list[str] = []
    for key in keys:
        for item in terms(lang, key):
            items.append(item)
            if item.startswith("re:"):
                regexes.append((re.compile(item[3:], re.IGNORECASE), key))
            else:
                owners.setdefault(term_key(item), set()).add(key)
    unique = tuple(dict.fromkeys(items))
    return (
        compile_terms(lang, unique, lang == "en"),
        {k: frozenset(v) for k, v in owners.items()},
        tuple(regexes),
    )


def scan(text: str, lang: str, keys: tuple[str, ...]) -> list[tuple[int, int, frozenset[str]]]:
    """All matches of the union of ``keys`` in ``text`` with the lists each match belongs to."""
    pat, owners, regexes = vocabulary(lang, keys)
    out: list[tuple[int, int, frozenset[str]]] = []
    for m in pat.finditer(text):
        word = m.group(0)
        k = term_key(word)
        found = owners.get(k)
        if found is None and lang == "en":
            found = owners.get(k[:-1]) if k.endswith("s") else None
            if found is None and k.endswith("es"):
                found = owners.get(k[:-2])
        if found is None:
            found = frozenset(name for rx, name in regexes if rx.fullmatch(word))
        out.append((m.start(), m.end(), found))
    return out
