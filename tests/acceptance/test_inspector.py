"""Acceptance by a client nobody on this project wrote: the MCP Inspector CLI (npm).

``.ci/run`` installs it into ``tests/acceptance/.npm``; set ``MCP_INSPECTOR`` to use another copy.
Without it these tests skip with the install command, except under CI, where a missing Inspector
fails the run instead of passing silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulator.openrouter import Emulator
from tests.surface.test_transport_http import TOKEN, http_server

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
INSTALL = "npm install --no-save --prefix tests/acceptance/.npm @modelcontextprotocol/inspector@2.12.0"


def inspector() -> str:
    found = os.environ.get("MCP_INSPECTOR") or str(HERE / ".npm" / "node_modules" / ".bin" / "mcp-inspector")
    if Path(found).exists():
        return found
    if os.environ.get("CI"):
        pytest.fail(f"the MCP Inspector is not installed ({found}); .ci/run must install it: {INSTALL}")
    if not shutil.which("npm"):
        pytest.skip("npm is not installed: the Inspector acceptance tests need Node.js and npm")
    pytest.skip(f"the MCP Inspector is not installed: {INSTALL}")


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([inspector(), "--cli", *args], capture_output=True, text=True, timeout=timeout)


def server_env_flags(tmp_path: Path, emulator: Emulator) -> list[str]:
    env = {
        "OPENROUTER_API_KEY": emulator.api_key,
        "OPENROUTER_BASE_URL": emulator.base_url,
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
    }
    return [flag for k, v in env.items() for flag in ("-e", f"{k}={v}")]


SERVE = ["--", sys.executable, "-m", "imagegen_mcp", "serve"]


def test_inspector_lists_the_tools_over_stdio(tmp_path: Path, emulator: Emulator) -> None:
    proc = run(*server_env_flags(tmp_path, emulator), "--method", "tools/list", *SERVE)
    assert proc.returncode == 0, proc.stderr
    names = {t["name"] for t in json.loads(proc.stdout)["tools"]}
    assert {"generate_image", "preflight"} <= names


def test_inspector_generates_an_image_over_stdio(tmp_path: Path, emulator: Emulator) -> None:
    args = json.dumps({"prompt": "a red kite over green hills, gouache illustration"})
    proc = run(
        *server_env_flags(tmp_path, emulator),
        "--method", "tools/call", "--tool-name", "generate_image", "--tool-args-json", args, *SERVE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [b["type"] for b in result["content"]] == ["text", "resource_link", "image"]
    [image] = result["structuredContent"]["images"]
    assert Path(image["path"]).is_file() and emulator.generation_count() == 1


def test_inspector_over_streamable_http_needs_the_token(tmp_path: Path, emulator: Emulator) -> None:
    inspector()  # skip or fail before starting a server
    with http_server(tmp_path, emulator, "http") as base:
        url = f"{base}/mcp"
        args = json.dumps({"prompt": "a lantern in fog, charcoal sketch"})
        ok = run(
            url, "--header", f"Authorization: Bearer {TOKEN}",
            "--method", "tools/call", "--tool-name", "generate_image", "--tool-args-json", args,
        )  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["structuredContent"]["images"]
        refused = run(url, "--method", "tools/list")
        assert refused.returncode != 0
        assert "generate_image" not in refused.stdout
