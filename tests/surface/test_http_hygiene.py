"""HTTP and SSE as a network sees them: nothing on stdout, no secret in any log line, slow clients
cut off, and SIGTERM exits 0 without a traceback — every time (it used to fail in half the runs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

pytestmark = pytest.mark.slow

QUERY_SECRET = "qs-secret-7f3a9c21"
TOKEN = "bearer-secret-0c8e5d44"


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    stdout: str = ""
    stderr: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    tmp_path: Path, transport: str, *extra: str, serve_args: tuple[str, ...] = (), token: str | None = None
) -> Iterator[Served]:
    """``imagegen-mcp serve`` in a subprocess; on exit: SIGTERM, wait, and the captured output."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
        "IMAGEGEN_PROVIDER": "placeholder",
        **({"IMAGEGEN_MCP_TOKEN": token} if token else {}),
    }
    out, err = (tmp_path / f"{transport}.out").open("wb"), (tmp_path / f"{transport}.err").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "imagegen_mcp",
        *extra,
        "serve",
        "--transport",
        transport,
        "--port",
        str(port),
        *serve_args,
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
    served = Served(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        out.close()
        err.close()
        served.stdout = (tmp_path / f"{transport}.out").read_text()
        served.stderr = (tmp_path / f"{transport}.err").read_text()


def test_http_mode_keeps_stdout_empty_and_logs_no_token(tmp_path: Path) -> None:
    with serving(tmp_path, "http", "--verbose", token=TOKEN) as served:
        headers = {"Accept": "application/json, text/event-stream"}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        httpx2.post(f"{served.base}/mcp?token={QUERY_SECRET}", json=body, headers=headers)
        httpx2.post(f"{served.base}/mcp?access_token={QUERY_SECRET}", json=body,
                    headers={**headers, "Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        httpx2.get(f"{served.base}/nowhere?key={QUERY_SECRET}")
    assert served.proc.returncode == 0
    assert served.stdout == ""
    assert "POST /mcp" in served.stderr, served.stderr  # the access log is there (on stderr) ...
    assert QUERY_SECRET not in served.stderr and TOKEN not in served.stderr  # ... without the secrets


def test_a_client_that_never_finishes_its_headers_is_disconnected(tmp_path: Path) -> None:
    with serving(tmp_path, "http", serve_args=("--header-timeout", "1")) as served:
        port = int(served.base.rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port)) as idle,
            socket.create_connection(("127.0.0.1", port)) as slow,
        ):
            slow.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
            for conn in (idle, slow):
                conn.settimeout(8)
                assert conn.recv(1024) == b""  # closed by the server


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_sigterm_exits_zero_without_a_traceback_every_time(tmp_path: Path, transport: str) -> None:
    for run in range(8):
        where = tmp_path / str(run)
        where.mkdir()
        with serving(where, transport) as served:
            if run % 2:  # half the runs with an open stream, half idle
                stream = socket.create_connection(("127.0.0.1", int(served.base.rsplit(":", 1)[1])))
                path = "/sse" if transport == "sse" else "/mcp"
                stream.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
                stream.settimeout(10)
                assert stream.recv(64).startswith(b"HTTP/1.1")
        if run % 2:
            stream.close()
        assert served.proc.returncode == 0, served.stderr
        assert "Traceback" not in served.stderr and "CancelledError" not in served.stderr, served.stderr
        assert served.stdout == ""
