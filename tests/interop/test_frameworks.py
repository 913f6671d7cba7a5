"""The OpenAI Agents SDK and pydantic-ai take our tools with their own converters (the ``interop`` extra).

No LLM is called: each framework's own code turns the tools a real MCP client lists into the request
payload it would send (the Responses API ``tools`` for the Agents SDK; pydantic-ai's OpenAI and Gemini
schema transformers). Skipped, with the reason, when the extra is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server

pytestmark = pytest.mark.anyio


async def listed(tmp_path: Path) -> list[Any]:
    async with Client(build_server(Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "q"))) as c:
        return list((await c.list_tools()).tools)


async def test_the_agents_sdk_builds_a_responses_tool_for_every_tool(tmp_path: Path) -> None:
    pytest.importorskip("agents", reason="openai-agents not installed: pip install -e '.[interop]'")
    from agents.mcp import MCPServerStdio, MCPUtil
    from agents.models.openai_responses import Converter

    server = MCPServerStdio(params={"command": "imagegen-mcp", "args": ["serve"]}, name="imagegen")
    tools = await listed(tmp_path)
    # The SDK's default for MCP servers (convert_schemas_to_strict=False): the schema goes as it is.
    functions = [MCPUtil.to_function_tool(t, server, convert_schemas_to_strict=False) for t in tools]
    converted = Converter.convert_tools(functions, handoffs=[]).tools
    assert [c["name"] for c in converted] == [t.name for t in tools]  # type: ignore[index]
    for payload, tool in zip(converted, tools, strict=True):
        assert payload["type"] == "function"  # type: ignore[index]
        assert payload["parameters"]["properties"] == tool.input_schema["properties"]  # type: ignore[index]


def test_the_agents_sdk_waits_five_seconds_unless_told_otherwise() -> None:
    pytest.importorskip("agents", reason="openai-agents not installed: pip install -e '.[interop]'")
    from agents.mcp import MCPServerStdio

    default = MCPServerStdio(params={"command": "imagegen-mcp", "args": ["serve"]})
    fixed = MCPServerStdio(params={"command": "imagegen-mcp", "args": ["serve"]}, client_session_timeout_seconds=300)
    assert default.client_session_timeout_seconds == 5  # docs/interop.md: raise it for image models
    assert fixed.client_session_timeout_seconds == 300


async def test_pydantic_ai_transforms_every_schema_for_openai_and_gemini(tmp_path: Path) -> None:
    pytest.importorskip("pydantic_ai", reason="pydantic-ai-slim not installed: pip install -e '.[interop]'")
    from pydantic_ai.profiles.google import GoogleJsonSchemaTransformer
    from pydantic_ai.profiles.openai import OpenAIJsonSchemaTransformer

    for tool in await listed(tmp_path):
        names = set(tool.input_schema["properties"])
        for transformer in (OpenAIJsonSchemaTransformer(tool.input_schema, strict=None),
                            GoogleJsonSchemaTransformer(tool.input_schema)):  # fmt: skip
            out = transformer.walk()
            assert set(out["properties"]) == names, (tool.name, type(transformer).__name__)
            assert "$ref" not in str(out) and "$defs" not in out
