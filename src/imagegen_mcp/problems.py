"""Argument errors in words a caller can act on: the argument, what is allowed, what was sent, the fix.

pydantic's own text (``1 validation error for generate_imageArguments … errors.pydantic.dev``) names
internal model names and a web page; a model reading it has to guess. :func:`explain` turns each
error into ``n: must be an integer from 1 to 4 (got "2") — pass n as a number, e.g. n=2``. What is
allowed comes from the JSON Schema the caller was shown (a tool's ``inputSchema``, or the request
model's schema for the CLI), falling back on pydantic's error context.

The same function serves tools and the CLI: ``flags`` maps argument names to CLI flags, so the CLI
says ``-n 2`` where a tool says ``n=2``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

TYPE_ERRORS = {
    "int_type": "integer", "int_parsing": "integer", "int_from_float": "integer",
    "float_type": "number", "float_parsing": "number",
    "bool_type": "boolean", "bool_parsing": "boolean",
    "string_type": "string", "list_type": "array", "dict_type": "object", "model_type": "object",
    "model_attributes_type": "object", "tuple_type": "array",
}  # fmt: skip
NOUNS = {"integer": "a number", "number": "a number", "boolean": "a boolean", "string": "a string",
         "array": "a list", "object": "an object"}  # fmt: skip
EXAMPLES = {"integer": "2", "number": "2", "boolean": "true", "string": '"…"', "array": "[…]", "object": "{…}"}
MAX_ENUM_SHOWN = 24


def explain(
    exc: ValidationError | Sequence[Mapping[str, Any]],
    *,
    schema: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
    known: Iterable[str] = (),
    where: str = "this tool",
) -> str:
    """``"; "``-joined ``name: what (got …) — fix`` for every error; duplicates (one per union branch) once."""
    errors = exc.errors() if isinstance(exc, ValidationError) else exc
    lines: list[str] = []
    for err in errors:
        line = one(err, schema or {}, flags or {}, tuple(known), where)
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def one(err: Mapping[str, Any], schema: Mapping[str, Any], flags: Mapping[str, str], known: tuple[str, ...],
        where: str) -> str:  # fmt: skip
    loc = [p for p in err.get("loc", ()) if not (isinstance(p, str) and p in ("function-after", "function-before"))]
    name = spell_loc(loc, flags)
    top = str(loc[0]) if loc else ""
    kind = str(err.get("type", ""))
    field = field_schema(schema, loc)
    value = err.get("input")
    if kind == "missing":
        return f"{name} is required — pass {name}" + (f" ({field['description']})" if field.get("description") else "")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        close = difflib.get_close_matches(top, known, n=1) if known else []
        fix = f"did you mean {spell_name(close[0], flags)}?" if close else "remove it"
        listed = f" (arguments: {', '.join(spell_name(k, flags) for k in known)})" if known and not close else ""
        return f"{name} is not an argument of {where}{listed} — {fix}"
    allowed = describe(field) if field else ""
    if not allowed:
        allowed = from_context(kind, err)
    got = f" (got {show(value)})"
    if not allowed:
        message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        return f"{name}: {message}{got} — correct {name} and call again"
    return f"{name}: must be {allowed}{got} — {fix_for(kind, name, value, field, flags, loc)}"


def fix_for(kind: str, name: str, value: Any, field: Mapping[str, Any], flags: Mapping[str, str],
            loc: Sequence[Any]) -> str:  # fmt: skip
    want = TYPE_ERRORS.get(kind)
    if value is None and want:
        return f"omit {name} or pass {NOUNS.get(want, 'a value')}"
    if want and isinstance(value, str) and parses_as(value, want):
        return f"pass {name} as {NOUNS[want]}, not a string, e.g. {example(loc, json.loads(value), flags)}"
    if want:
        return f"pass {name} as {NOUNS.get(want, 'a value')}, e.g. {example(loc, None, flags, want)}"
    if kind in ("literal_error", "enum"):
        return "use one of those values"
    if kind in ("string_too_long", "too_long"):
        return f"shorten {name}"
    if kind in ("string_too_short", "too_short"):
        return f"give {name} a value, or omit it"
    if kind.startswith(("greater_than", "less_than")):
        return f"pass {name} within that range"
    return f"correct {name} and call again"


def describe(field: Mapping[str, Any]) -> str:
    """What a JSON Schema allows, in a few words: ``an integer from 1 to 4``, ``one of 'low', 'high'``."""
    options = [s for s in field.get("anyOf", ()) if s.get("type") != "null"]
    nullable = len(options) < len(field.get("anyOf", ()))
    if len(options) == 1:
        field = {**options[0], **{k: v for k, v in field.items() if k != "anyOf"}}
    elif options:
        return " or ".join(describe(o) for o in options)
    text = describe_one(field)
    return f"{text} (or omit it)" if nullable and text else text


def describe_one(field: Mapping[str, Any]) -> str:
    if "enum" in field or "const" in field:
        values = list(field.get("enum", [field.get("const")]))
        shown = ", ".join(json.dumps(v) for v in values[:MAX_ENUM_SHOWN])
        return f"one of {shown}" + (", …" if len(values) > MAX_ENUM_SHOWN else "")
    kind = field.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        low, high = field.get("minimum", field.get("exclusiveMinimum")), field.get("maximum")
        if low is not None and high is not None:
            return f"{noun} from {low:g} to {high:g}"
        if low is not None:
            return f"{noun} of at least {low:g}"
        return f"{noun} of at most {high:g}" if high is not None else noun
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        low, high = field.get("minLength"), field.get("maxLength")
        if high is not None:
            return f"a string of {low or 0}–{high} characters" if low else f"a string of at most {high} characters"
        return "a non-empty string" if low else "a string"
    if kind == "array":
        items = describe(field.get("items", {})) if field.get("items") else ""
        cap = f"up to {field['maxItems']} items" if "maxItems" in field else "items"
        return f"a list of {cap}" + (f", each {items}" if items else "")
    if kind == "object":
        return "an object"
    return ""


def from_context(kind: str, err: Mapping[str, Any]) -> str:
    """What is allowed when no schema is at hand: pydantic's error context."""
    ctx = err.get("ctx") or {}
    if kind == "literal_error" and "expected" in ctx:
        return f"one of {ctx['expected'].replace(' or ', ', ')}"
    if kind in TYPE_ERRORS:
        return {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "a string",
                "array": "a list", "object": "an object"}[TYPE_ERRORS[kind]]  # fmt: skip
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"at least {ctx.get('min_length')} character(s)"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    for key, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "less than")):
        if key in ctx:
            return f"{words} {ctx[key]}"
    return ""


def field_schema(schema: Mapping[str, Any], loc: Sequence[Any]) -> Mapping[str, Any]:
    """The sub-schema at ``loc`` (``("must_keep", 2)`` → the list's item schema), ``{}`` when unknown."""
    defs = schema.get("$defs", {})
    node: Mapping[str, Any] = schema
    for part in loc:
        node = deref(node, defs)
        options = [deref(s, defs) for s in node.get("anyOf", ()) if s.get("type") != "null"]
        holder = next((o for o in options if ("items" if isinstance(part, int) else "properties") in o), node)
        node = holder.get("items", {}) if isinstance(part, int) else holder.get("properties", {}).get(part, {})
        if not node:
            return {}
    return deref(node, defs)


def deref(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**defs.get(ref.removeprefix("#/$defs/"), {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def parses_as(text: str, want: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(want, False)


def example(loc: Sequence[Any], value: Any, flags: Mapping[str, str], want: str = "") -> str:
    top = str(loc[0]) if loc else "value"
    text = json.dumps(value) if value is not None else EXAMPLES.get(want, "…")
    if flags and top in flags:
        flag = flags[top]
        if value is True:
            return flag
        return f"{flag} {text}"
    return f"{spell_loc(loc, flags)}={text}"


def spell_name(name: str, flags: Mapping[str, str]) -> str:
    return flags.get(name, name)


def spell_loc(loc: Sequence[Any], flags: Mapping[str, str]) -> str:
    """``must_keep[2]``; a CLI flag for the top-level name when ``flags`` has one."""
    if not loc:
        return "arguments"
    text = spell_name(str(loc[0]), flags)
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def show(value: Any, limit: int = 40) -> str:
    """The rejected value, short: ``"2"``, ``null``, ``"aaaa…" (1500 characters)``."""
    if isinstance(value, str) and len(value) > limit:
        return f'{json.dumps(value[:limit], ensure_ascii=False)[:-1]}…" ({len(value)} characters)'
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters of JSON)"
