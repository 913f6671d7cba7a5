"""An error's fix fits its caller: a tool's caller, a CLI user, or the queue (which retries by itself)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from imagegen_mcp import errors as e
from imagegen_mcp.config import Settings
from imagegen_mcp.fixes import cli_words, fix_for
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

PROMPT = "a red fox in fresh snow at dawn, telephoto photo"


class HtmlGateway(BaseHTTPRequestHandler):
    """A misbehaving gateway: every answer is an HTML error page sent with 200."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HtmlGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1"
    server.shutdown()
    server.server_close()


async def failed_job(settings: Settings) -> dict[str, Any]:
    async with Client(build_server(settings)) as c:
        enq = await c.call_tool("enqueue_images", {"prompt": PROMPT})
        job_id = enq.structured_content["jobs"][0]["job_id"]  # type: ignore[index]
        result = await c.call_tool("queue_status", {"job_ids": [job_id], "wait_s": 60})
    job: dict[str, Any] = result.structured_content["jobs"][0]  # type: ignore[index]
    return job


async def test_a_rate_limited_job_is_retried_and_never_told_to_use_enqueue_images(
    settings: Settings, emulator: Emulator
) -> None:
    emulator.set_fault(Fault("http", status=429, retry_after=0))
    job = await failed_job(settings)
    assert job["status"] == "failed" and job["attempts"] == job["max_attempts"] > 1
    assert job["error"]["code"] == "rate_limited"
    assert "enqueue_images" not in job["error"]["fix"], job["error"]
    assert f"gave up after {job['attempts']} attempts" in job["error"]["fix"]


async def test_a_gateway_html_page_is_retried_by_the_queue_and_its_fix_agrees(
    settings: Settings, html_gateway: str
) -> None:
    job = await failed_job(with_settings(settings, base_url=html_gateway))
    assert job["error"]["code"] == "invalid_response"
    assert job["attempts"] == job["max_attempts"] > 1  # retried, and bounded
    assert "gave up after" in job["error"]["fix"] and "retry;" not in job["error"]["fix"]


async def test_a_gateway_html_page_tells_a_tool_caller_to_retry(settings: Settings, html_gateway: str) -> None:
    async with Client(build_server(with_settings(settings, base_url=html_gateway))) as c:
        result = await c.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error and "retry" in result.content[0].text  # type: ignore[union-attr]


def test_while_the_queue_will_retry_the_fix_says_there_is_nothing_to_do() -> None:
    exc = e.ProviderDownError("OpenRouter 503", "retry shortly, or use enqueue_images, which retries for you")
    fix = fix_for(exc, "queue", attempts=1, max_attempts=3, will_retry=True)
    assert fix == "nothing to do: the queue retries this job automatically (attempt 1 of 3 failed)"
    assert fix_for(exc, "tool") == exc.fix


@pytest.mark.parametrize(
    ("tool_words", "cli"),
    [
        ("check OPENROUTER_API_KEY, or call with provider='placeholder'", "or run with --provider placeholder"),
        ("retry, or use enqueue_images, which retries for you", "use imagegen-mcp enqueue"),
        ("call again with confirm_external_upload=true", "run again with --confirm-external-upload"),
        ("n: must be an integer from 1 to 4 (got 9) — pass n within that range", "-n: must be"),
        ("pass surface='images' or 'chat'", "pass --surface images"),
        ("use the job ids, or call queue_status without arguments", "run imagegen-mcp status"),
    ],
)
def test_cli_fixes_name_flags_and_verbs_not_tool_arguments(tool_words: str, cli: str) -> None:
    assert cli in cli_words(tool_words)


@pytest.mark.slow
def test_the_cli_names_its_own_flag_when_the_key_is_missing(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out")}
    proc = subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", "generate", PROMPT, "--provider", "openrouter"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "--provider placeholder" in proc.stderr, proc.stderr
    assert "provider='placeholder'" not in proc.stderr and "Traceback" not in proc.stderr
