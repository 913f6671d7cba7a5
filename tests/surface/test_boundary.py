"""The surface's error boundary, through a real MCP client: every failure is words with a fix.

No exception type reaches a client raw: known foreign errors (a path too long, a database error,
a decompression bomb) are translated, anything else is a clean internal error whose traceback
stays in the server log (redacted); an unknown resource is "not found" in both protocol eras.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import zlib

import pytest
from mcp import Client, MCPError

from imagegen_mcp.config import Settings
from imagegen_mcp.storage import local as store
from imagegen_mcp.surface import server as server_module
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings

pytestmark = pytest.mark.anyio

PROMPT = "a paper boat on a pond, ink drawing"


@pytest.fixture
def offline(settings: Settings) -> Settings:
    return with_settings(settings, provider="placeholder")


def text_of(result: object) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")  # type: ignore[attr-defined]


def assert_clean(text: str) -> None:
    for raw in ("Traceback", "Error executing tool", "Errno", "sqlite3.", "PIL."):
        assert raw not in text, text
    assert " — " in text, text


def bomb_png(width: int, height: int) -> bytes:
    """A tiny file whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


async def test_an_out_dir_too_long_for_the_file_system_names_the_argument(offline: Settings) -> None:
    async with Client(build_server(offline)) as c:
        result = await c.call_tool("enqueue_images", {"prompt": PROMPT, "out_dir": "d" * 300})
    assert result.is_error
    text = text_of(result)
    assert "too long" in text and "out_dir" in text, text
    assert_clean(text)


async def test_a_decompression_bomb_is_an_image_error_with_a_fix(offline: Settings) -> None:
    offline.output_dir.mkdir(parents=True)
    bomb = offline.output_dir / "bomb.png"
    bomb.write_bytes(bomb_png(40000, 40000))
    async with Client(build_server(offline)) as c:
        result = await c.call_tool(
            "generate_image",
            {"prompt": "make the boat red", "baseline_image": str(bomb), "confirm_external_upload": True},
        )
    assert result.is_error
    text = text_of(result)
    assert "too large" in text and "smaller image" in text, text
    assert_clean(text)


async def test_a_database_error_is_a_queue_error_with_a_fix(offline: Settings) -> None:
    async with Client(build_server(offline)) as c:
        assert not (await c.call_tool("enqueue_images", {"prompt": PROMPT})).is_error
        with sqlite3.connect(offline.queue_dir / "queue.sqlite3") as con:
            con.execute("DROP TABLE jobs")
        result = await c.call_tool("queue_status", {})
    assert result.is_error
    text = text_of(result)
    assert "job queue" in text and "IMAGEGEN_QUEUE_DIR" in text, text
    assert_clean(text)


async def test_an_unexpected_exception_is_a_clean_internal_error_and_the_log_has_the_redacted_traceback(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = settings.api_key or ""

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom with {key}")

    monkeypatch.setattr(server_module, "generate", crash)
    with caplog.at_level(logging.ERROR, logger="imagegen_mcp"):
        async with Client(build_server(settings)) as c:
            result = await c.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    text = text_of(result)
    assert text.startswith("internal error in generate_image: RuntimeError;"), text
    assert "boom" not in text and key not in text
    assert "server log" in text and " — " in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Traceback" in logged and "boom with" in logged and key not in logged


async def test_a_non_image_behind_an_image_uri_says_it_is_not_an_image(offline: Settings) -> None:
    offline.output_dir.mkdir(parents=True)
    notes = offline.output_dir / "notes.png"
    notes.write_text("not an image at all")
    async with Client(build_server(offline)) as c:
        with pytest.raises(MCPError) as caught:
            await c.read_resource(store.image_uri(offline.output_dir, notes))
    assert "not a PNG, JPEG, WebP or GIF image" in caught.value.error.message
    assert caught.value.error.message != "Internal server error"


@pytest.mark.parametrize(("mode", "code"), [("auto", -32602), ("legacy", -32002)])
async def test_an_unknown_image_is_not_found_with_the_code_of_the_clients_era(
    offline: Settings, mode: str, code: int
) -> None:
    async with Client(build_server(offline), mode=mode) as c:  # type: ignore[arg-type]
        for uri in (store.image_uri(offline.output_dir, offline.output_dir / "nope.png"), "imagegen://images/!!"):
            with pytest.raises(MCPError) as caught:
                await c.read_resource(uri)
            assert caught.value.error.code == code, caught.value.error
            assert "no image" in caught.value.error.message


@pytest.mark.parametrize(("mode", "code"), [("auto", -32602), ("legacy", -32002)])
async def test_an_unknown_job_is_not_found(offline: Settings, mode: str, code: int) -> None:
    async with Client(build_server(offline), mode=mode) as c:  # type: ignore[arg-type]
        with pytest.raises(MCPError) as caught:
            await c.read_resource("imagegen://jobs/j_doesnotexist")
    assert caught.value.error.code == code
    assert "no job j_doesnotexist" in caught.value.error.message
