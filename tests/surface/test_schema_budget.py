"""The tool list is small: every conversation of every host pays for it in context (issue 16).

The budget covers the whole ``tools/list`` result as a client receives it (compact JSON), for every
tool the server registers — tools added later are measured (and dieted) the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.diet import diet_input, diet_output, diet_repeats
from imagegen_mcp.surface.server import build_server

pytestmark = pytest.mark.anyio

BUDGET_BYTES = 12_288
DESIGN_RESULT_KEYS = {
    "generate_image": {
        "operation", "images", "model", "provider", "generation_id", "cost_usd", "elapsed_s", "hints", "attempts",
    },
    "enqueue_images": {"request_id", "jobs", "hints"},
    "queue_status": {"jobs", "totals"},
    "cancel_jobs": {"jobs"},
    "preflight": {"ok", "checks", "providers"},
}  # fmt: skip


async def listed(tmp_path: Path) -> dict[str, Any]:
    server = build_server(Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "q"))
    async with Client(server) as c:  # type: ignore[arg-type]
        result = await c.list_tools()
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


def walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in walk(v)]
    return []


async def test_the_whole_tool_list_fits_the_budget_in_compact_json(tmp_path: Path) -> None:
    wire = await listed(tmp_path)
    size = len(json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode())
    names = [t["name"] for t in wire["tools"]]
    assert size <= BUDGET_BYTES, f"tools/list is {size} bytes for {names}; the budget is {BUDGET_BYTES}"


async def test_no_argument_carries_a_title_or_a_null_union(tmp_path: Path) -> None:
    for tool in (await listed(tmp_path))["tools"]:
        for node in walk(tool["inputSchema"]):
            props = node.get("properties", {})
            assert "title" not in node or "title" in props, (tool["name"], node)
            assert {"type": "null"} not in node.get("anyOf", []), (tool["name"], node)
            assert "$ref" not in node and "$defs" not in node, (tool["name"], node)


async def test_every_argument_a_tool_introduces_has_a_description(tmp_path: Path) -> None:
    seen: set[str] = set()
    for tool in (await listed(tmp_path))["tools"]:
        for name, schema in tool["inputSchema"]["properties"].items():
            if name not in seen and "enum" not in schema:
                assert schema.get("description"), f"{tool['name']}.{name} has no description"
            seen.add(name)


async def test_result_schemas_keep_the_keys_design_lists(tmp_path: Path) -> None:
    tools = {t["name"]: t for t in (await listed(tmp_path))["tools"]}
    for name, keys in DESIGN_RESULT_KEYS.items():
        if name in tools:
            assert keys <= set(tools[name]["outputSchema"]["properties"]), name
    images = tools["generate_image"]["outputSchema"]["properties"]["images"]["items"]["properties"]
    assert {"path", "uri", "mime_type", "width", "height", "bytes", "sha256"} <= set(images)
    attempt = tools["generate_image"]["outputSchema"]["properties"]["attempts"]["items"]["properties"]
    assert {"provider", "model", "ok", "error", "cost_usd", "elapsed_s"} <= set(attempt)
    assert {"code", "message"} <= set(attempt["error"]["properties"])


def test_the_diet_inlines_definitions_and_drops_null_unions_titles_and_null_defaults() -> None:
    schema = {
        "$defs": {
            "Prefs": {"title": "Prefs", "type": "object", "properties": {"a": {"type": "string", "description": "x"}}}
        },
        "title": "fnArguments",
        "type": "object",
        "properties": {
            "size": {"anyOf": [{"enum": ["low", "high"], "type": "string"}, {"type": "null"}], "default": None,
                     "description": "How big", "title": "Size"},
            "prefs": {"anyOf": [{"$ref": "#/$defs/Prefs"}, {"type": "null"}], "default": None,
                      "description": "Routing"},
            "flag": {"type": "boolean", "default": False, "title": "Flag", "description": "On"},
            "wait": {"type": "number", "default": 0, "minimum": 0, "description": "Seconds"},
        },
        "required": [],
    }  # fmt: skip
    assert diet_input(schema) == {
        "type": "object",
        "properties": {
            "size": {"enum": ["low", "high"], "type": "string", "description": "How big"},
            "prefs": {"type": "object", "properties": {"a": {"type": "string"}}, "description": "Routing"},
            "flag": {"type": "boolean", "description": "On"},
            "wait": {"type": "number", "default": 0, "minimum": 0, "description": "Seconds"},
        },
        "required": [],
    }


def test_a_result_schema_keeps_its_keys_and_nesting_only() -> None:
    schema = {
        "$defs": {"Img": {"type": "object", "title": "Img", "properties": {"path": {"type": "string"}}}},
        "type": "object",
        "title": "Result",
        "properties": {
            "images": {"type": "array", "items": {"$ref": "#/$defs/Img"}, "title": "Images"},
            "cost_usd": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
        },
        "required": ["images"],
    }
    assert diet_output(schema) == {
        "type": "object",
        "properties": {"images": {"items": {"properties": {"path": {}}}}, "cost_usd": {}},
    }


def test_an_argument_repeated_from_an_earlier_tool_keeps_only_its_shape() -> None:
    from mcp.types import Tool

    arg = {"type": "string", "enum": ["a", "b"], "description": "Pick one"}
    first = Tool(name="one", input_schema={"type": "object", "properties": {"x": arg}})
    second = Tool(name="two", input_schema={"type": "object", "properties": {"x": arg, "y": {"type": "integer"}}})
    one, two = diet_repeats([first, second])
    assert one.input_schema["properties"]["x"] == arg
    assert two.input_schema["properties"] == {"x": {"type": "string"}, "y": {"type": "integer"}}
