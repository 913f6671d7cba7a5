"""Load over Streamable HTTP: many concurrent sessions calling ``queue_status`` and a dry-run
``generate_image`` against one server, for a fixed time. Reports errors, p50 and p99 latency.

There is no floor to divide by here (the issue asks for zero errors and the latency spread), so
the figure's target is on the error count.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import anyio
import httpx2

from .common import PYTHON, Figure, child_env, median, percentile

TOKEN = "bench-token-7c1d2e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def session(url: str, deadline: float, latencies: list[float], errors: list[str]) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            i = 0
            while time.monotonic() < deadline:
                started = time.perf_counter()
                if i % 2:
                    result = await client.call_tool("queue_status", {})
                else:
                    args = {"prompt": "a paper crane on a desk, macro photo", "dry_run": True}
                    result = await client.call_tool("generate_image", args)
                latencies.append(time.perf_counter() - started)
                if result.is_error:
                    errors.append(str(result.content)[:200])
                i += 1
    except Exception as exc:  # a failed session is an error to report, not a crash of the bench
        errors.append(f"{type(exc).__name__}: {exc}"[:200])


def run(sessions: int = 50, seconds: float = 30.0) -> list[Figure]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = child_env(IMAGEGEN_OUTPUT_DIR=tmp, IMAGEGEN_PROVIDER="placeholder", IMAGEGEN_MCP_TOKEN=TOKEN)
        proc = subprocess.Popen(
            [PYTHON, "-m", "imagegen_mcp", "serve", "--transport", "http", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the HTTP server did not start") from None
                    time.sleep(0.05)
            latencies: list[float] = []
            errors: list[str] = []

            async def main() -> None:
                end = time.monotonic() + seconds
                async with anyio.create_task_group() as tg:
                    for _ in range(sessions):
                        tg.start_soon(session, f"http://127.0.0.1:{port}/mcp", end, latencies, errors)

            anyio.run(main)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    calls = len(latencies)
    note = (
        f"{sessions} sessions x {seconds:g} s: {calls} calls, p50 {median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms" + (f"; first error: {errors[0]}" if errors else "")
    )
    return [
        Figure("http load: errors", float(len(errors)), None, "errors", target=0, note=note),
        Figure("http load: p50 latency", median(latencies) * 1000 if latencies else float("nan"), None, "ms"),
        Figure("http load: p99 latency", percentile(latencies, 99) * 1000 if latencies else float("nan"), None, "ms"),
    ]


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    from .common import table

    print(table(run(10, 5) if quick else run()))
    os._exit(0)
