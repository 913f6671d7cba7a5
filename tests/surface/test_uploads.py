"""Only what the user approved leaves the machine: a local file is uploaded only with
confirm_external_upload, unless this server generated those very bytes (recorded by sha256)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

EDIT = "Using the provided image, make the sky stormier with dark clouds"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def png_bytes(color: str = "orange") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "PNG")
    return buf.getvalue()


def uri_of(settings: Settings, path: Path) -> str:
    rel = path.resolve().relative_to(settings.output_dir.resolve()).as_posix()
    return "imagegen://images/" + base64.urlsafe_b64encode(rel.encode()).decode().rstrip("=")


async def refused_without_confirmation(client: Client, emulator: Emulator, tool: str, **arguments: Any) -> None:
    result = await client.call_tool(tool, {"prompt": EDIT, **arguments})
    assert result.is_error, text_of(result)
    assert "confirm_external_upload=true" in text_of(result)
    assert emulator.generation_requests() == []


@pytest.fixture
def planted(settings: Settings) -> Path:
    """A file someone else put in the output directory."""
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    path = settings.output_dir / "someone-elses.png"
    path.write_bytes(png_bytes("green"))
    return path


async def test_a_file_someone_put_in_the_output_directory_needs_confirmation_by_path(
    client: Client, emulator: Emulator, planted: Path
) -> None:
    await refused_without_confirmation(client, emulator, "generate_image", baseline_image=str(planted))
    await refused_without_confirmation(client, emulator, "generate_image", baseline_image=planted.name)


async def test_a_file_someone_put_in_the_output_directory_needs_confirmation_by_uri(
    client: Client, settings: Settings, emulator: Emulator, planted: Path
) -> None:
    await refused_without_confirmation(client, emulator, "generate_image", baseline_image=uri_of(settings, planted))


async def test_a_hard_link_in_the_output_directory_to_a_file_elsewhere_needs_confirmation(
    client: Client, settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    secret = tmp_path / "private" / "scan.png"
    secret.parent.mkdir()
    secret.write_bytes(png_bytes("red"))
    settings.output_dir.mkdir(parents=True)
    link = settings.output_dir / "innocent.png"
    os.link(secret, link)
    await refused_without_confirmation(client, emulator, "generate_image", baseline_image=str(link))
    await refused_without_confirmation(client, emulator, "generate_image", baseline_image=uri_of(settings, link))


async def test_enqueue_images_with_a_planted_file_needs_confirmation_and_enqueues_nothing(
    client: Client, settings: Settings, emulator: Emulator, planted: Path
) -> None:
    await refused_without_confirmation(
        client, emulator, "enqueue_images", baseline_image=str(planted), count=2, prefix="storm"
    )
    assert not (settings.output_dir / "storm-manifest.json").exists()


async def test_confirmation_lets_a_planted_file_go_out_intact(
    client: Client, emulator: Emulator, planted: Path
) -> None:
    args = {"prompt": EDIT, "baseline_image": str(planted), "confirm_external_upload": True}
    result = await client.call_tool("generate_image", args)
    assert not result.is_error, text_of(result)
    assert emulator.generation_requests()[-1].input_images == [planted.read_bytes()]


async def test_an_image_this_server_generated_needs_no_confirmation_even_after_a_restart(
    settings: Settings, emulator: Emulator
) -> None:
    async with Client(build_server(settings)) as first:
        made = await first.call_tool("generate_image", {"prompt": "A lighthouse on a cliff at dusk, oil painting"})
        assert not made.is_error, text_of(made)
    [image] = made.structured_content["images"]  # type: ignore[index]
    async with Client(build_server(settings)) as second:  # a new process would read the same record
        for ref in (image["uri"], image["path"]):
            result = await second.call_tool("generate_image", {"prompt": EDIT, "baseline_image": ref})
            assert not result.is_error, text_of(result)
            assert result.structured_content["baseline_applied"] is True  # type: ignore[index]
    sent = emulator.generation_requests()[-1].input_images[0]
    assert hashlib.sha256(sent).hexdigest() == image["sha256"]


async def test_a_generated_image_edited_in_place_needs_confirmation(client: Client, emulator: Emulator) -> None:
    made = await client.call_tool("generate_image", {"prompt": "A lighthouse on a cliff at dusk, oil painting"})
    [image] = made.structured_content["images"]  # type: ignore[index]
    Path(image["path"]).write_bytes(png_bytes("purple"))  # not the bytes this server saved any more
    before = len(emulator.generation_requests())
    result = await client.call_tool("generate_image", {"prompt": EDIT, "baseline_image": image["uri"]})
    assert result.is_error and "confirm_external_upload=true" in text_of(result)
    assert len(emulator.generation_requests()) == before
