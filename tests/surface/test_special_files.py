"""Only regular files, size-capped, read with a bound: FIFOs, devices, huge files and
decompression bombs get a clear error instead of a blocked thread or exhausted memory."""

from __future__ import annotations

import base64
import contextlib
import os
import stat
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

MAX_IMAGE_BYTES = 64 * 1024 * 1024  # storage.local.MAX_IMAGE_BYTES, the resource cap
EDIT = "Using the provided image, make the sky stormier with dark clouds"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def uri_of(settings: Settings, path: Path) -> str:
    rel = path.relative_to(settings.output_dir).as_posix()
    return "imagegen://images/" + base64.urlsafe_b64encode(rel.encode()).decode().rstrip("=")


def png_header(width: int, height: int) -> bytes:
    """A tiny, valid PNG that declares ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@contextlib.asynccontextmanager
async def fifo(path: Path) -> AsyncIterator[Path]:
    """A FIFO with a watchdog: if a reader is still stuck in open() after 10 s (the old behaviour),
    a writer opens and closes it so the reader gets EOF, and the test fails instead of hanging."""
    os.mkfifo(path)
    fired = False

    async def watchdog() -> None:
        nonlocal fired
        await anyio.sleep(10)
        fired = True
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading it, which is the point
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    async with anyio.create_task_group() as tg:
        tg.start_soon(watchdog)
        yield path
        tg.cancel_scope.cancel()
    assert not fired, "a reader blocked on the FIFO"


async def test_reading_a_fifo_as_an_image_resource_is_refused_without_blocking(
    client: Client, settings: Settings
) -> None:
    settings.output_dir.mkdir(parents=True)
    async with fifo(settings.output_dir / "pipe.png") as pipe:
        with pytest.raises(MCPError) as info:
            await client.read_resource(uri_of(settings, pipe))
    assert "FIFO" in str(info.value) and "not a regular file" in str(info.value)


async def test_a_fifo_as_baseline_is_refused_without_blocking(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    settings.output_dir.mkdir(parents=True)
    async with fifo(settings.output_dir / "pipe.png") as pipe:
        result = await client.call_tool(
            "generate_image",
            {"prompt": EDIT, "baseline_image": uri_of(settings, pipe), "confirm_external_upload": True},
        )
    assert result.is_error and "not a regular file" in text_of(result)
    assert emulator.generation_requests() == []


async def test_a_device_file_as_an_image_resource_is_refused(client: Client, settings: Settings) -> None:
    settings.output_dir.mkdir(parents=True)
    device = settings.output_dir / "zero.png"
    try:
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless bytes
    except (PermissionError, AttributeError):
        pytest.skip("cannot create a device node here")
    with pytest.raises(MCPError) as info:
        await client.read_resource(uri_of(settings, device))
    assert "device file" in str(info.value)


async def test_a_file_over_the_cap_as_an_image_resource_is_a_clean_error(client: Client, settings: Settings) -> None:
    settings.output_dir.mkdir(parents=True)
    huge = settings.output_dir / "huge.png"
    with open(huge, "wb") as fh:  # sparse: costs no disk, but a reader without a cap reads it all
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(MCPError) as info:
        await client.read_resource(uri_of(settings, huge))
    assert "too large" in str(info.value) and "64 MiB" in str(info.value)


async def test_a_resource_that_is_not_an_image_is_refused(client: Client, settings: Settings) -> None:
    settings.output_dir.mkdir(parents=True)
    (settings.output_dir / "notes.png").write_text("not an image")
    with pytest.raises(MCPError) as info:
        await client.read_resource(uri_of(settings, settings.output_dir / "notes.png"))
    assert "not a PNG, JPEG, WebP or GIF image" in str(info.value)


async def test_a_decompression_bomb_baseline_is_a_clear_too_large_error_before_any_request(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    bomb = workspace / "bomb.png"
    bomb.write_bytes(png_header(50_000, 50_000))
    assert bomb.stat().st_size < 100
    async with Client(build_server(with_settings(settings, workspace=(workspace,)))) as c:
        result = await c.call_tool(
            "generate_image", {"prompt": EDIT, "baseline_image": str(bomb), "confirm_external_upload": True}
        )
    text = text_of(result)
    assert result.is_error and "baseline_image is too large" in text and "megapixel limit" in text
    assert "downscale" in text
    assert emulator.generation_requests() == []
