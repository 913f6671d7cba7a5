"""Streamable HTTP and SSE: the server as a team would run it, with and without the token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.emulator.openrouter import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TOKEN = "test-token-5b0c1e7d9f"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_server(tmp_path: Path, emulator: Emulator, transport: str, token: str | None = TOKEN) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "OPENROUTER_API_KEY": emulator.api_key,
        "OPENROUTER_BASE_URL": emulator.base_url,
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
    }
    env.pop("IMAGEGEN_MCP_TOKEN", None)
    if token:
        env["IMAGEGEN_MCP_TOKEN"] = token
    log = (tmp_path / f"{transport}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagegen_mcp", "serve", "--transport", transport, "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / f"{transport}.log").read_text()) from None
                time.sleep(0.05)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, (tmp_path / f"{transport}.log").read_text()
        log.close()
    assert emulator.api_key not in (tmp_path / f"{transport}.log").read_text()


def target(transport: str, base: str, http: httpx2.AsyncClient) -> object:
    if transport == "http":
        return streamable_http_client(f"{base}/mcp", http_client=http)
    return sse_client(f"{base}/sse", headers=dict(http.headers))


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_the_right_token_lists_and_generates(tmp_path: Path, emulator: Emulator, transport: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with http_server(tmp_path, emulator, transport) as base:
        async with (
            httpx2.AsyncClient(headers=auth, timeout=30) as http,
            Client(target(transport, base, http)) as client,  # type: ignore[arg-type]
        ):
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"generate_image", "preflight"} <= names
            result = await client.call_tool("generate_image", {"prompt": "a paper boat on a pond, ink drawing"})
            assert not result.is_error, result.content
            assert [b.type for b in result.content] == ["text", "resource_link", "image"]


@pytest.mark.parametrize("transport", ["http", "sse"])
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_no_token_or_a_wrong_token_gets_401(
    tmp_path: Path, emulator: Emulator, transport: str, token: str | None
) -> None:
    with http_server(tmp_path, emulator, transport) as base:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if transport == "http":
            response = httpx2.post(
                f"{base}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={**headers, "Accept": "application/json, text/event-stream"},
            )
        else:
            response = httpx2.get(f"{base}/sse", headers=headers)
        assert response.status_code == 401
        assert "imagegen" not in response.text.lower() and "generate_image" not in response.text


def test_a_bad_host_header_is_rejected(tmp_path: Path, emulator: Emulator) -> None:
    with http_server(tmp_path, emulator, "http") as base:
        response = httpx2.post(
            f"{base}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Host": "evil.example.com", "Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 421


def test_without_a_token_loopback_is_open(tmp_path: Path, emulator: Emulator) -> None:
    with http_server(tmp_path, emulator, "http", token=None) as base:
        response = httpx2.post(
            f"{base}/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "0"},
                },
            },
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert response.status_code == 200


def test_a_non_loopback_bind_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IMAGEGEN_MCP_TOKEN"}
    env["IMAGEGEN_OUTPUT_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "IMAGEGEN_MCP_TOKEN" in proc.stderr and "127.0.0.1" in proc.stderr


async def test_two_sse_connections_share_one_provider_client(tmp_path: Path, emulator: Emulator) -> None:
    # The SSE transport runs the lifespan per connection; the catalogue is cached per provider
    # instance, so one catalogue fetch for two connections proves they share one set of services.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with http_server(tmp_path, emulator, "sse") as base:
        async with (
            Client(sse_client(f"{base}/sse", headers=auth)) as first,
            Client(sse_client(f"{base}/sse", headers=auth)) as second,
        ):
            for client in (first, second):
                result = await client.call_tool("generate_image", {"prompt": "a paper boat on a pond, ink drawing"})
                assert not result.is_error, result.content
    assert len([r for r in emulator.requests if r.path.endswith("/images/models")]) == 1
