"""An output directory that is a file: serve refuses to start, preflight gives a fix that works."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ConfigError
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", "serve"],
        input="",  # a server that did start would exit 0 when stdin closes
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_serve_exits_two_naming_the_variable_when_the_output_dir_is_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "images"
    a_file.write_bytes(b"")
    proc = serve(tmp_path, IMAGEGEN_OUTPUT_DIR=str(a_file))
    assert proc.returncode == 2, proc.stderr
    assert "IMAGEGEN_OUTPUT_DIR" in proc.stderr and "is a file" in proc.stderr and str(a_file) in proc.stderr
    assert proc.stdout == ""


def test_a_queue_dir_under_a_file_is_refused_at_start_too(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    settings = Settings.from_env(
        {"IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"), "IMAGEGEN_QUEUE_DIR": str(tmp_path / "f/q")}
    )
    with pytest.raises(ConfigError) as info:
        settings.check_dirs()
    assert "IMAGEGEN_QUEUE_DIR" in info.value.message and "move the file" in info.value.fix


@pytest.mark.anyio
async def test_preflight_reports_an_output_dir_that_is_a_file_with_a_fix_that_works(
    settings: Settings, tmp_path: Path
) -> None:
    a_file = tmp_path / "images"
    a_file.write_bytes(b"")
    async with Client(build_server(with_settings(settings, output_dir=a_file))) as c:
        result = await c.call_tool("preflight", {})
    report = result.structured_content
    assert report is not None and report["ok"] is False
    [check] = [c for c in report["checks"] if c["name"] == "output_dir"]
    assert not check["ok"] and "is a file" in check["detail"]
    assert "mkdir" not in check["fix"] and "IMAGEGEN_OUTPUT_DIR" in check["fix"]
    # The fix works: moving the file away (one of its two suggestions) makes the check pass.
    moved = check["fix"].split("move the file ")[1].split(" away")[0]
    os.rename(shlex.split(moved)[0], tmp_path / "moved-away")
    async with Client(build_server(with_settings(settings, output_dir=a_file))) as c:
        again = await c.call_tool("preflight", {})
    [check] = [c for c in again.structured_content["checks"] if c["name"] == "output_dir"]  # type: ignore[index]
    assert check["ok"], check
