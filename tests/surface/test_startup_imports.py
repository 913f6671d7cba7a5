"""Start-up imports nothing tools/list does not need: no provider module, tenacity or Pillow before first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys, anyio
from mcp import Client
from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server

async def main():
    async with Client(build_server(Settings.from_env())) as client:
        await client.list_tools()
    loaded = [m for m in sys.modules if m.startswith(("imagegen_mcp.providers.", "tenacity", "PIL", "psycopg"))]
    print(json.dumps(sorted(loaded)))

anyio.run(main)
"""


def test_every_provider_configured_still_imports_no_provider_module_before_use(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
        "IMAGEGEN_PROVIDER": "auto",
        "OPENROUTER_API_KEY": "sk-or-v1-startup-test-0123456789",
        "OPENAI_API_KEY": "sk-startup-test-0123456789",
        "IMAGE_API_KEY": "gw-startup-test-0123456789",
        "IMAGE_BASE_URL": "http://127.0.0.1:9",
        "BFL_API_KEY": "bfl-startup-test-0123456789",
        "FAL_KEY": "fal-startup-test:0123456789",
    }
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    # The protocol, the registry (names only) and the shared HTTP plumbing (httpx2, which the SDK imports
    # anyway) are not any one provider's module; tenacity and Pillow must wait for first use.
    shared = ("imagegen_mcp.providers.base", "imagegen_mcp.providers.registry", "imagegen_mcp.providers.http")
    heavy = [m for m in loaded if m not in shared]
    assert heavy == [], heavy
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
