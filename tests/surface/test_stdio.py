"""The server as a host runs it: a child process over stdio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.emulator.openrouter import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}


def server_env(tmp_path: Path, emulator: Emulator) -> dict[str, str]:
    return {
        "OPENROUTER_API_KEY": emulator.api_key,
        "OPENROUTER_BASE_URL": emulator.base_url,
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
        "HOME": str(tmp_path),
    }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_host_lists_tools_and_generates_over_stdio(tmp_path: Path, emulator: Emulator, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "imagegen_mcp", "serve"],
        env=server_env(tmp_path, emulator),
        cwd="/",
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:  # type: ignore[arg-type]
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"generate_image", "preflight"} <= names
            result = await client.call_tool(
                "generate_image", {"prompt": "a lighthouse on a cliff at night, oil painting"}
            )
            assert not result.is_error, result.content
            assert [b.type for b in result.content] == ["text", "resource_link", "image"]
            [image] = result.structured_content["images"]  # type: ignore[index]
            assert Path(image["path"]).is_file()
            assert Path(image["path"]).is_relative_to(tmp_path / "out")
            served = await client.read_resource(image["uri"])
            assert served.contents[0].mime_type == "image/png"
    assert emulator.api_key not in (tmp_path / "stderr.log").read_text()


def start(tmp_path: Path, emulator: Emulator) -> subprocess.Popen[bytes]:
    env = {**os.environ, **server_env(tmp_path, emulator)}
    return subprocess.Popen(
        [sys.executable, "-m", "imagegen_mcp", "serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/",
    )  # fmt: skip


def test_stdout_carries_only_protocol_and_stdin_close_exits_zero(tmp_path: Path, emulator: Emulator) -> None:
    proc = start(tmp_path, emulator)
    requests = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "preflight", "arguments": {}}},
    ]
    payload = "".join(json.dumps(r) + "\n" for r in requests).encode()
    out, err = proc.communicate(payload, timeout=60)  # writes, then closes stdin
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines, err.decode()
    ids = []
    for line in lines:
        message = json.loads(line)  # every stdout line is JSON-RPC
        assert message["jsonrpc"] == "2.0"
        ids.append(message.get("id"))
    assert {1, 2, 3} <= set(ids)


def test_sigterm_shuts_down_cleanly(tmp_path: Path, emulator: Emulator) -> None:
    proc = start(tmp_path, emulator)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(INIT) + "\n").encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1  # up and serving
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=15) == 0
    finally:
        proc.communicate()  # drains and closes the pipes
