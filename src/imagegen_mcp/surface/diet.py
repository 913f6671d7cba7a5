"""The schema diet: what ``tools/list`` advertises, cut to what a model needs to call a tool.

Every conversation of every host pays for the tool list in context, so the schemas pydantic emits
are post-processed once, when a tool is registered (:meth:`ImagegenServer.add_tool`), for every
tool — including ones added later — with the same rules:

Input schemas (what the model fills in):

- ``$ref`` is inlined and ``$defs`` dropped: tools rarely repeat a definition *within* one schema,
  and LangChain, pydantic-ai and the OpenAI Agents SDK all take a self-contained schema best.
- no ``title`` (pydantic's "Prompt", "Wait S", … repeat the property name);
- an optional argument is its type, not ``anyOf [type, null]``; a ``null`` or ``false`` default is
  dropped (omitting the argument is how a model says "none"/"no"; an explicit ``null`` is still
  accepted);
- below the arguments themselves (the keys of an object argument) only types and bounds remain:
  the argument's description says what goes inside;
- string length bounds go (the server checks and words them); numeric bounds, item counts, enums
  and non-null defaults stay — they change what a model sends.
- ``additionalProperties: false`` and ``propertyNames`` on nested objects go (the server refuses
  unknown keys with a worded error).

Output schemas (what a client validates ``structuredContent`` against): the keys and their
nesting (``properties`` / ``items``), nothing else — no types, titles, descriptions, enums, bounds,
defaults or ``required``. Every key is kept (DESIGN.md's and the extra ones); the types are in
DESIGN.md and the README. A schema that says less is still truthful: every result validates.

Repeats (:func:`diet_repeats`, applied by ``tools/list``): an argument identical to one in an
earlier tool keeps only its shape there (the tool's description points at the first one), and a
result key identical to one in an earlier tool's result is ``{}``.

Annotations: no second copy of the tool's title (the hints all stay: hosts differ in what they assume
for a missing one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mcp.types import Tool, ToolAnnotations

DROP_IN = {"title", "minLength", "maxLength", "propertyNames", "$defs"}


def diet_input(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's ``inputSchema`` after the diet (a new dict; the argument is not changed)."""
    defs = schema.get("$defs", {})
    return _input(schema, defs, top=True)


def _input(node: Mapping[str, Any], defs: Mapping[str, Any], top: bool = False, depth: int = 0) -> dict[str, Any]:
    node = _deref(node, defs)
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**_deref(kept[0], defs), **outer}
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROP_IN or (key == "default" and (value is None or value is False)) or (key == "description" and top):
            continue
        if depth > 1 and key not in ("type", "properties", "items", "additionalProperties", "anyOf"):
            continue  # the argument's own description says what goes inside
        if key == "additionalProperties" and value is False:
            continue
        if key == "properties":
            result[key] = {name: _input(sub, defs, depth=depth + 1) for name, sub in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            result[key] = _input(value, defs, depth=depth)
        elif key == "additionalProperties" and isinstance(value, Mapping):
            result[key] = _input(value, defs, depth=depth + 1)
        elif key == "anyOf":
            result[key] = [_input(o, defs, depth=depth) for o in value]
        else:
            result[key] = value
    return result


def diet_output(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A tool's ``outputSchema`` reduced to its keys and their JSON types."""
    if schema is None:
        return None
    return {"type": "object", **_output(schema, schema.get("$defs", {}))}  # the spec wants a top-level type


def _output(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    node = _deref(node, defs)
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [_deref(o, defs) for o in options if o.get("type") != "null"]
        if len(kept) != 1:  # a real union: say nothing rather than something wrong
            return {}
        node = kept[0]
    result: dict[str, Any] = {}
    if "properties" in node:
        result["properties"] = {name: _output(sub, defs) for name, sub in node["properties"].items()}
    if isinstance(node.get("items"), Mapping):
        items = _output(node["items"], defs)
        if items:
            result["items"] = items
    if isinstance(node.get("additionalProperties"), Mapping):
        extra = _output(node["additionalProperties"], defs)
        if extra:
            result["additionalProperties"] = extra
    return result


def diet_repeats(tools: list[Tool]) -> list[Tool]:
    """Tools in order; what an earlier tool already said in full is not said again.

    - An argument identical to one of the same name in an earlier tool keeps only its shape (type,
      items, properties): its description, enum and default were said once already. A tool that
      repeats arguments says so in its description ("other arguments as in generate_image"). The
      server still validates the full argument and words any refusal.
    - A result key (at any depth) identical to one of the same name in an earlier tool's result is
      ``{}``; a whole result identical to an earlier tool's is ``{"type": "object"}`` (edit_image's
      and upscale_image's results are generate_image's: their descriptions say "result as
      generate_image").
    """
    seen_in: dict[str, str] = {}
    seen_out: dict[str, str] = {}
    whole_out: set[str] = set()
    out = []
    for tool in tools:
        update: dict[str, Any] = {}
        props = tool.input_schema.get("properties", {})
        slim = {}
        for name, schema in props.items():
            key = json.dumps(schema, sort_keys=True)
            slim[name] = _shape(schema) if seen_in.get(name) == key else schema
            seen_in.setdefault(name, key)
        if slim != props:
            update["input_schema"] = {**tool.input_schema, "properties": slim}
        if tool.output_schema is not None:
            whole = json.dumps(tool.output_schema, sort_keys=True)
            repeated = whole in whole_out
            whole_out.add(whole)
            update["output_schema"] = {"type": "object"} if repeated else _unrepeat(tool.output_schema, seen_out)
        out.append(tool.model_copy(update=update) if update else tool)
    return out


def _unrepeat(node: dict[str, Any], seen: dict[str, str]) -> dict[str, Any]:
    result = dict(node)
    if isinstance(node.get("items"), dict):
        result["items"] = _unrepeat(node["items"], seen)
    if isinstance(node.get("properties"), dict):
        props = {}
        for name, sub in node["properties"].items():
            key = json.dumps(sub, sort_keys=True)
            props[name] = {} if sub and seen.get(name) == key else _unrepeat(sub, seen)
            seen.setdefault(name, key)
        result["properties"] = props
    return result


def _shape(schema: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {k: schema[k] for k in ("type",) if k in schema}
    if isinstance(schema.get("items"), Mapping):
        result["items"] = _shape(schema["items"])
    if isinstance(schema.get("properties"), Mapping):
        result["properties"] = {k: _shape(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), Mapping):
        result["additionalProperties"] = _shape(schema["additionalProperties"])
    return result


def diet_annotations(annotations: ToolAnnotations | None, title: str | None) -> ToolAnnotations | None:
    """The hints, all four stated (hosts differ in what they assume when one is missing), without a
    second copy of the tool's title."""
    if annotations is None or annotations.title != title:
        return annotations
    return annotations.model_copy(update={"title": None})


def _deref(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        return {**_deref(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
    return node
