"""Never pay for an image you cannot keep: targets are checked before any request, and billed
images that still cannot be saved are kept, with their cost, where the error says.

Every refusal here is asserted together with "the emulator received no generation request".
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.queue.sqlite import JobQueue
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

PROMPT = "A red fox in fresh snow at dawn, telephoto photo, soft golden light, calm mood"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


async def refused(client: Client, emulator: Emulator, tool: str = "generate_image", **arguments: Any) -> str:
    arguments.setdefault("prompt", PROMPT)
    result = await client.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    assert emulator.generation_requests() == [], "refused before any request"
    return text_of(result)


@pytest.mark.parametrize("out", [".", "sub/..", "./", "cats/.", "cats/.."])
async def test_out_naming_the_output_directory_is_refused_before_any_request(
    client: Client, settings: Settings, emulator: Emulator, out: str
) -> None:
    if out.endswith("/"):  # a trailing slash names a folder that gets generated names: that is allowed
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "out": out, "return_image": "none"})
        assert not result.is_error, text_of(result)
        [image] = result.structured_content["images"]  # type: ignore[index]
        assert Path(image["path"]).parent == settings.output_dir.resolve()
        return
    text = await refused(client, emulator, out=out)
    assert f"out={out!r}" in text and "file name" in text
    assert not list(settings.output_dir.parent.glob("out.*")), "nothing written beside the output directory"


async def test_out_dot_with_overwrite_leaves_the_file_beside_the_output_directory_alone(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    beside = settings.output_dir.parent / f"{settings.output_dir.name}.png"
    beside.write_bytes(b"precious")
    await refused(client, emulator, out=".", overwrite=True)
    assert beside.read_bytes() == b"precious"


async def test_names_that_would_only_fail_at_write_time_are_refused_before_any_request(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    settings.output_dir.mkdir(parents=True)
    (settings.output_dir / "taken.png").write_bytes(b"a file, not a folder")
    (settings.output_dir / "dir.png").mkdir()
    text = await refused(client, emulator, out="x" * 300 + ".png")
    assert "out=" in text and "bytes" in text and "shorter out" in text
    text = await refused(client, emulator, out="taken.png/fox.png")
    assert "taken.png" in text and "is a file" in text and "move the file" in text
    text = await refused(client, emulator, out="taken.png/")
    assert "taken.png" in text and "is a file" in text
    text = await refused(client, emulator, out="dir.png")
    assert "which is a folder" in text and "out='dir.png/'" in text
    text = await refused(client, emulator, out="a/" + "y" * 256 + "/fox.png")
    assert "out=" in text and "bytes" in text


async def test_an_output_directory_that_is_a_file_is_refused_before_any_request(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_bytes(b"")
    async with Client(build_server(with_settings(settings, output_dir=a_file))) as c:
        text = await refused(c, emulator)
    assert "IMAGEGEN_OUTPUT_DIR" in text and "is a file" in text and "move the file" in text
    assert a_file.read_bytes() == b""


async def test_too_little_free_space_is_refused_before_any_request(settings: Settings, emulator: Emulator) -> None:
    async with Client(build_server(with_settings(settings, min_free_mb=1024.0**3))) as c:  # an exabyte
        text = await refused(c, emulator)
    assert "free" in text and "IMAGEGEN_MIN_FREE_MB" in text


async def test_enqueue_with_an_out_dir_that_is_a_file_enqueues_nothing_and_sends_nothing(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    settings.output_dir.mkdir(parents=True)
    (settings.output_dir / "batch").write_bytes(b"a file")
    text = await refused(client, emulator, tool="enqueue_images", out_dir="batch", count=2, prefix="fox")
    assert "out_dir='batch'" in text and "is a file" in text
    db = settings.queue_dir / "queue.sqlite3"
    if db.exists():
        queue = JobQueue(settings.queue_dir).open()
        try:
            assert queue.recent(10) == []
        finally:
            queue.close()


async def test_a_billed_image_that_cannot_be_saved_is_kept_and_the_error_says_where_and_what_it_cost(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    # A real failure after the check: while the provider works, the folder the image is meant for
    # becomes a file (as a full disk would, the write fails with an OSError after billing).
    settings.output_dir.mkdir(parents=True)
    emulator.latency_s = 1.0
    usage_before = emulator.usage_usd
    blocked = settings.output_dir / "sub"
    result: Any = None

    async def call() -> None:
        nonlocal result
        result = await client.call_tool("generate_image", {"prompt": PROMPT, "out": "sub/fox.png"})

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.to_thread.run_sync(emulator.wait_for_request, "/chat/completions")
        blocked.write_bytes(b"in the way")
    assert result.is_error
    text = text_of(result)
    [kept] = (settings.queue_dir / "recovery").iterdir()
    [image] = sorted(kept.glob("image-*"))
    assert image.read_bytes().startswith(b"\x89PNG")
    assert str(kept) in text and str(image) in text
    assert f"billed ${emulator.usage_usd - usage_before:.4f}" in text
    assert "copy the files" in text
    assert emulator.generation_count() == 1


async def test_when_even_the_recovery_folder_fails_the_cost_is_still_reported(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    queue_dir = tmp_path / "queue-is-a-file"
    queue_dir.write_bytes(b"")
    settings.output_dir.mkdir(parents=True)
    emulator.latency_s = 1.0
    result: Any = None
    async with Client(build_server(with_settings(settings, queue_dir=queue_dir))) as c:

        async def call() -> None:
            nonlocal result
            result = await c.call_tool("generate_image", {"prompt": PROMPT, "out": "sub/fox.png"})

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await anyio.to_thread.run_sync(emulator.wait_for_request, "/chat/completions")
            (settings.output_dir / "sub").write_bytes(b"in the way")
    text = text_of(result)
    assert result.is_error and "billed $" in text
    # The per-user temp folder took the bytes instead.
    assert "imagegen-recovery-" in text
    folder = Path(text.split(" are kept in ")[1].split(" (")[0])
    assert hashlib.sha256(next(folder.glob("image-*")).read_bytes()).hexdigest()
    shutil.rmtree(folder)
