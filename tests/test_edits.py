"""Edits from a baseline image through a real MCP client, against the emulator."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

EDIT = "Using the provided image, make the sky stormier with dark clouds"


def text_of(result: object) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")  # type: ignore[attr-defined]


def png_bytes(color: str = "orange", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def last_generation(emulator: Emulator) -> object:
    return [r for r in emulator.requests if r.method == "POST"][-1]


async def make_one(client: Client) -> dict:  # type: ignore[type-arg]
    result = await client.call_tool("generate_image", {"prompt": "A lighthouse on a cliff at dusk, oil painting"})
    assert not result.is_error, text_of(result)
    return result.structured_content["images"][0]  # type: ignore[index,no-any-return]


async def test_editing_a_generated_image_sends_it_byte_for_byte_with_rails(client: Client, emulator: Emulator) -> None:
    made = await make_one(client)
    result = await client.call_tool("generate_image", {"prompt": EDIT, "baseline_image": made["uri"]})
    assert not result.is_error, text_of(result)
    rec = last_generation(emulator)
    [sent] = rec.input_images  # type: ignore[attr-defined]
    assert hashlib.sha256(sent).hexdigest() == made["sha256"]
    assert "Keep the colour palette unchanged." in rec.prompt  # type: ignore[attr-defined]
    data = result.structured_content
    assert data["baseline_applied"] is True and data["edit_intent_detected"] is True  # type: ignore[index]
    assert data["baseline_source"] == made["uri"] and data["baseline_source_kind"] == "explicit_path_or_url"  # type: ignore[index]
    assert data["rails_applied"] == ["variation:low", "lock_palette", "lock_composition"]  # type: ignore[index]
    assert data["baseline_resolution_policy"].startswith("sent as-is")  # type: ignore[index]


async def test_the_image_api_gets_the_baseline_as_an_input_reference(client: Client, emulator: Emulator) -> None:
    made = await make_one(client)
    args = {"prompt": EDIT, "baseline_image": made["uri"], "model": "bytedance-seed/seedream-4.5"}
    result = await client.call_tool("generate_image", args)
    assert not result.is_error, text_of(result)
    rec = last_generation(emulator)
    assert rec.path.endswith("/images")  # type: ignore[attr-defined]
    assert rec.json["input_references"][0]["type"] == "image_url"  # type: ignore[attr-defined]
    assert hashlib.sha256(rec.input_images[0]).hexdigest() == made["sha256"]  # type: ignore[attr-defined]


async def test_a_workspace_file_needs_confirmation_then_goes_out_intact(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    data = png_bytes()
    (workspace / "logo.png").write_bytes(data)
    async with Client(build_server(with_settings(settings, workspace=(workspace,)))) as c:
        args = {"prompt": EDIT, "baseline_image": str(workspace / "logo.png"), "must_keep": ["the logo"]}
        refused = await c.call_tool("generate_image", args)
        assert refused.is_error and "confirm_external_upload=true" in text_of(refused)
        assert not [r for r in emulator.requests if r.method == "POST"]
        accepted = await c.call_tool("generate_image", {**args, "confirm_external_upload": True})
        assert not accepted.is_error, text_of(accepted)
    assert last_generation(emulator).input_images == [data]  # type: ignore[attr-defined]
    assert "must_keep:the logo" in accepted.structured_content["rails_applied"]  # type: ignore[index]


async def test_a_file_outside_the_workspace_is_refused_clearly(
    client: Client, emulator: Emulator, tmp_path: Path
) -> None:
    outside = tmp_path / "private.png"
    outside.write_bytes(png_bytes())
    args = {"prompt": EDIT, "baseline_image": str(outside), "confirm_external_upload": True}
    result = await client.call_tool("generate_image", args)
    assert result.is_error
    assert "outside the allowed folders" in text_of(result) and "IMAGEGEN_WORKSPACE" in text_of(result)
    assert not [r for r in emulator.requests if r.method == "POST"]


async def test_dry_run_validates_the_baseline_and_shows_the_prompt_it_would_send(
    client: Client, emulator: Emulator
) -> None:
    made = await make_one(client)
    result = await client.call_tool(
        "generate_image",
        {
            "prompt": EDIT,
            "baseline_image": made["uri"],
            "dry_run": True,
            "lock_palette": False,
            "variation_strength": "medium",
        },
    )
    assert not result.is_error, text_of(result)
    sent = result.structured_content["request"]["prompt_sent"]  # type: ignore[index]
    assert "colour palette" not in sent and "Moderate changes" in sent
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1  # only make_one


async def test_no_baseline_means_no_rails_and_diagnostics_say_so(client: Client) -> None:
    result = await client.call_tool("generate_image", {"prompt": "A lighthouse on a cliff at dusk, oil painting"})
    data = result.structured_content
    assert data["baseline_applied"] is False and data["rails_applied"] == []  # type: ignore[index]
    assert data["edit_intent_detected"] is False  # type: ignore[index]


async def test_four_low_variation_variants_of_a_generated_image_with_start_index(
    settings: Settings, emulator: Emulator
) -> None:
    async with Client(build_server(settings)) as c:
        made = await make_one(c)
        notes = ["in teal", "in coral", "in gold", "in slate"]
        enq = await c.call_tool(
            "enqueue_images",
            {"prompt": "Recolour the logo", "baseline_image": made["uri"], "count": 4, "prefix": "logo",
             "start_index": 5, "variant_notes": notes},
        )  # fmt: skip
        assert not enq.is_error, text_of(enq)
        data = enq.structured_content
        assert [j["index"] for j in data["jobs"]] == [5, 6, 7, 8]  # type: ignore[index]
        status = await c.call_tool("queue_status", {"request_id": data["request_id"], "wait_s": 30})  # type: ignore[index]
        assert not status.is_error, text_of(status)
        jobs = status.structured_content["jobs"]  # type: ignore[index]
        assert [j["status"] for j in jobs] == ["succeeded"] * 4
        names = sorted(Path(j["images"][0]["path"]).name for j in jobs)
        assert names == ["logo-05.png", "logo-06.png", "logo-07.png", "logo-08.png"]
        assert [b.type for b in status.content].count("image") == 1  # one contact sheet
    variants = [r for r in emulator.requests if r.method == "POST"][1:]
    assert len(variants) == 4
    for rec in variants:
        assert hashlib.sha256(rec.input_images[0]).hexdigest() == made["sha256"]  # type: ignore[attr-defined]
        assert "Keep the colour palette unchanged." in rec.prompt  # type: ignore[attr-defined]
    assert sorted(n for rec in variants for n in notes if f": {n}" in rec.prompt) == sorted(notes)  # type: ignore[attr-defined]
    manifest = json.loads(Path(data["manifest"]).read_text())  # type: ignore[index]
    assert manifest["baseline"]["image"] == made["uri"]
    assert manifest["baseline"]["constraints"]["variation_strength"] is None  # low by default, applied per job
    assert [v["delta"] for v in manifest["variants"]] == notes and manifest["start_index"] == 5
    receipt = json.loads((settings.queue_dir / "results" / f"{jobs[0]['job_id']}.json").read_text())
    assert receipt["diagnostics"]["baseline_applied"] is True
    assert receipt["diagnostics"]["rails_applied"] == ["variation:low", "lock_palette", "lock_composition"]
