"""The tool schemas as the live server advertises them, and their export to ``tool_schemas/``.

A test compares the files with the live server, so a change to a tool's arguments or result shape
cannot ship without the committed schemas (which hosts and reviewers read) changing with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


async def live_schemas() -> dict[str, dict[str, Any]]:
    """``tools/list`` entries exactly as serialized on the wire, keyed by tool name."""
    from imagegen_mcp.config import Settings
    from imagegen_mcp.surface.server import build_server

    # The schemas do not depend on settings; fixed paths keep the export reproducible.
    settings = Settings(output_dir=Path("/nonexistent/imagegen"), queue_dir=Path("/nonexistent/imagegen/queue"))
    server = build_server(settings)
    return {t.name: t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in await server.list_tools()}


def checkout_dir() -> Path | None:
    """``tool_schemas/`` of the source checkout this package runs from, ``None`` for an installed copy.

    ``imagegen-mcp schemas`` writes there (or where ``--out`` says), never into the working
    directory: run from anywhere else, the old default scattered ``tool_schemas/`` folders around.
    """
    root = Path(__file__).resolve().parents[3]  # src/imagegen_mcp/surface/schemas.py → the checkout
    target = root / "tool_schemas"
    return target if (root / "pyproject.toml").is_file() and target.is_dir() else None


def export(schemas: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(schemas.items()):
        path = out / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        written.append(path)
    for stale in out.glob("*.json"):
        if stale.stem not in schemas:
            stale.unlink()
    return written
