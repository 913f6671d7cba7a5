"""Cold start: process launch until the ``tools/list`` answer over stdio, against a bare MCPServer."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time

from .common import PYTHON, ROOT, Figure, child_env, interleaved, median

MESSAGES = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]


def time_to_tools_list(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the tools/list response line (legacy handshake, as most hosts send)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in MESSAGES).encode())
    proc.stdin.flush()
    elapsed = None
    for line in proc.stdout:
        if json.loads(line).get("id") == 2:
            elapsed = time.perf_counter() - started
            break
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()
    if elapsed is None:
        raise RuntimeError(f"{argv} never answered tools/list")
    return elapsed


def run(runs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        # Every provider configured (fake keys: tools/list calls none of them), routing on auto.
        env = child_env(
            IMAGEGEN_OUTPUT_DIR=tmp, IMAGEGEN_PROVIDER="auto", OPENROUTER_API_KEY="sk-or-v1-bench-0123456789",
            OPENAI_API_KEY="sk-bench-0123456789", IMAGE_API_KEY="gw-bench", IMAGE_BASE_URL="http://127.0.0.1:9",
        )  # fmt: skip
        ours, floor = interleaved(
            lambda: time_to_tools_list([PYTHON, "-m", "imagegen_mcp", "serve"], env),
            lambda: time_to_tools_list([PYTHON, str(ROOT / "bench" / "floor_server.py")], env),
            runs,
        )
    return [
        Figure(
            "cold start: launch → tools/list (stdio)",
            median(ours) * 1000,
            median(floor) * 1000,
            "ms",
            target=1.15,
            note=f"median of {runs}, every provider configured, interleaved with a bare one-tool MCPServer",
        )
    ]
