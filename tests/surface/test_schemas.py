"""The committed tool_schemas/ match what the live server advertises, on the wire too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from imagegen_mcp.surface.schemas import live_schemas

pytestmark = pytest.mark.anyio

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "tool_schemas"


async def test_committed_schemas_match_the_live_server() -> None:
    saved = {p.stem: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}
    assert saved == await live_schemas(), "tool schemas drifted: run 'imagegen-mcp schemas' and commit tool_schemas/"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_what_a_client_receives_equals_the_export(mode: str) -> None:
    async with Client(_server_for_export(), mode=mode) as c:  # type: ignore[arg-type]
        listed = (await c.list_tools()).tools
    wire = {t.name: t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in listed}
    assert wire == await live_schemas()


def _server_for_export() -> object:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.surface.server import build_server

    return build_server(Settings(output_dir=Path("/nonexistent/imagegen"), queue_dir=Path("/nonexistent/q")))
