"""enqueue_images with operation edit/upscale and prompts[], through a real MCP client and the queue worker
(placeholder provider): the jobs run through the one pipeline, the manifest records them and repeats them,
and receipts keep each attempt's provider metadata."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.queue.ops import request_from_manifest
from imagegen_mcp.surface.server import build_server

pytestmark = pytest.mark.anyio


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "work").mkdir()
    return Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider="placeholder",
                    workspace=(tmp_path / "work",), progress_interval_s=0.2, request_timeout_s=10)  # fmt: skip


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "face.png"
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (180, 140, 120)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


async def finished(c: Client, request_id: str) -> dict[str, Any]:
    result = await c.call_tool("queue_status", {"request_id": request_id, "wait_s": 30, "return_image": "none"})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None and result.structured_content["finished"]
    return result.structured_content


def size_of(path: str) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


EXPRESSIONS = ["smiling", "laughing", "angry", "surprised", "sad", "sleepy"]


async def test_a_character_sheet_is_six_prompts_with_one_strict_reference_and_one_contact_sheet(
    settings: Settings, picture: Path
) -> None:
    async with Client(build_server(settings)) as c:
        enq = await c.call_tool("enqueue_images", {
            "prompt": "Portrait of the girl from the reference, head and shoulders, plain grey backdrop",
            "prompts": [f"Expression: {e}" for e in EXPRESSIONS], "prefix": "sheet",
            "options": {"references": [str(picture)], "consistency": "strict"}, "confirm_external_upload": True,
        })  # fmt: skip
        assert not enq.is_error, text_of(enq)
        data = enq.structured_content
        assert data is not None and len(data["jobs"]) == 6
        status = await c.call_tool("queue_status", {"request_id": data["request_id"], "wait_s": 30})
    assert status.structured_content is not None and status.structured_content["totals"]["succeeded"] == 6
    assert [b.type for b in status.content].count("image") == 1  # one contact sheet
    manifest = json.loads(Path(data["manifest"]).read_text())
    assert manifest["prompts"] == [f"Expression: {e}" for e in EXPRESSIONS]
    assert manifest["options"]["references"] == [str(picture)] and manifest["options"]["consistency"] == "strict"
    again = request_from_manifest(Path(data["manifest"]))
    assert again.prompts == manifest["prompts"] and again.count == 6 and again.references == [str(picture)]
    assert again.variant_prompt(2).endswith("Expression: angry") and again.variant_prompt(2).startswith("Portrait")


async def test_queued_edits_and_upscales_run_through_the_pipeline_with_the_right_sizes(
    settings: Settings, picture: Path
) -> None:
    async with Client(build_server(settings)) as c:
        outpaint = await c.call_tool("enqueue_images", {
            "operation": "edit", "options": {"image": str(picture), "mode": "outpaint", "expand": {"right": 32}},
            "count": 2, "prefix": "wider", "confirm_external_upload": True,
        })  # fmt: skip
        upscale = await c.call_tool("enqueue_images", {
            "operation": "upscale", "options": {"image": str(picture), "scale": 4}, "prefix": "big",
            "confirm_external_upload": True,
        })  # fmt: skip
        assert not outpaint.is_error and not upscale.is_error, text_of(outpaint) + text_of(upscale)
        wider = await finished(c, outpaint.structured_content["request_id"])  # type: ignore[index]
        big = await finished(c, upscale.structured_content["request_id"])  # type: ignore[index]
    assert [size_of(j["images"][0]["path"]) for j in wider["jobs"]] == [(128, 64), (128, 64)]
    assert [size_of(j["images"][0]["path"]) for j in big["jobs"]] == [(384, 256)]
    [job] = big["jobs"]
    receipt = json.loads((settings.queue_dir / "results" / f"{job['job_id']}.json").read_text())
    text = json.dumps(receipt)
    assert '"operation": "upscale"' in text and '"meta"' in text and '"offline": true' in text


async def test_an_option_the_operation_does_not_take_is_refused_by_name_and_nothing_is_queued(
    settings: Settings, picture: Path
) -> None:
    async with Client(build_server(settings)) as c:
        result = await c.call_tool("enqueue_images", {
            "operation": "upscale", "options": {"image": str(picture), "mask_box": [0, 0, 1, 1]},
        })  # fmt: skip
        bad_input = await c.call_tool("enqueue_images", {
            "operation": "edit", "options": {"image": str(picture), "mode": "inpaint"}, "prompt": "a hat",
            "confirm_external_upload": True,
        })  # fmt: skip
    assert result.is_error and "options mask_box not used by operation upscale" in text_of(result)
    assert bad_input.is_error and "inpaint needs exactly one of mask or mask_box" in text_of(bad_input)
    assert not (settings.output_dir / "").exists() or not list(settings.output_dir.glob("*-manifest.json"))


async def test_a_generate_result_keeps_the_providers_metadata_on_its_attempt(settings: Settings) -> None:
    async with Client(build_server(settings)) as c:
        result = await c.call_tool("generate_image", {"prompt": "A lighthouse on a cliff at dusk, oil painting"})
    [attempt] = result.structured_content["attempts"]  # type: ignore[index]
    assert attempt["meta"] == {"operation": "generate", "offline": True}


async def test_prompts_alone_without_a_shared_prompt_enqueue_one_job_each(settings: Settings) -> None:
    async with Client(build_server(settings)) as c:
        enq = await c.call_tool("enqueue_images", {"prompts": ["A red fox in snow", "A grey wolf in fog"]})
        assert not enq.is_error, text_of(enq)
        done = await finished(c, enq.structured_content["request_id"])  # type: ignore[index]
    assert done["totals"]["succeeded"] == 2
