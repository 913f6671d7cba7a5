"""generate_image, preflight and the image resource through a real MCP client, against the emulator."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

PROMPT = 'A red fox in fresh snow at dawn, telephoto photo, soft golden light, a wooden sign that says "NORTH"'


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def kinds(result: Any) -> list[str]:
    return [b.type for b in result.content]


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_tools_are_listed_with_output_schemas_and_truthful_annotations(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"generate_image", "preflight"} <= set(tools)
    gen = tools["generate_image"]
    assert gen.output_schema is not None and "images" in gen.output_schema["properties"]
    assert gen.annotations is not None
    assert gen.annotations.read_only_hint is False and gen.annotations.idempotent_hint is False
    assert gen.annotations.open_world_hint is True
    assert tools["preflight"].annotations.read_only_hint is True  # type: ignore[union-attr]


async def test_generate_returns_summary_link_preview_and_structured_result(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "aspect_ratio": "16:9"})
    assert not result.is_error, text_of(result)
    assert kinds(result) == ["text", "resource_link", "image"]
    data = result.structured_content
    assert data is not None
    [image] = data["images"]
    path = Path(image["path"])
    assert path.is_absolute() and path.parent == settings.output_dir.resolve()
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == image["sha256"] and len(raw) == image["bytes"]
    assert image["mime_type"] == "image/png" and image["uri"].startswith("imagegen://images/")
    assert data["model"] == "google/gemini-3.1-flash-image-preview" and data["provider"] == "openrouter"
    assert data["generation_id"].startswith("gen-") and data["cost_usd"] > 0 and data["elapsed_s"] >= 0
    assert str(path) in text_of(result) and "$" in text_of(result)
    link = result.content[1]
    assert link.uri == image["uri"] and link.mime_type == "image/png"
    preview = result.content[2]
    assert preview.mime_type == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(preview.data))) as im:
        assert max(im.size) <= 1024
    sent = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert sent and sent[-1].json["image_config"] == {"aspect_ratio": "16:9"}


async def test_the_saved_file_is_the_providers_bytes_unchanged(client: Client, emulator: Emulator) -> None:
    emulator.push_fault(Fault("jpeg"))
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    [image] = result.structured_content["images"]  # type: ignore[index]
    assert image["mime_type"] == "image/jpeg" and image["path"].endswith(".jpg")
    served = await client.read_resource(image["uri"])
    [contents] = served.contents
    assert contents.mime_type == "image/jpeg"
    assert base64.b64decode(contents.blob) == Path(image["path"]).read_bytes()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fault", "mime", "count"),
    [
        (None, "image/png", 1),
        ("jpeg", "image/jpeg", 1),
        ("webp", "image/webp", 1),
        ("two_images", "image/png", 2),
        ("text_and_image", "image/png", 1),
        ("image_as_string", "image/png", 1),
        ("omit_system_fingerprint", "image/png", 1),
        ("large", None, 1),
    ],
)
async def test_each_chat_response_variant_is_parsed(
    client: Client, emulator: Emulator, fault: str | None, mime: str | None, count: int
) -> None:
    if fault:
        emulator.push_fault(Fault(fault))
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "return_image": "none"})
    assert not result.is_error, text_of(result)
    found = result.structured_content["images"]  # type: ignore[index]
    assert len(found) == count
    if mime:
        assert {i["mime_type"] for i in found} == {mime}
    assert "image" not in kinds(result)  # return_image="none"


@pytest.mark.parametrize("fault", [None, "no_media_type", "jpeg", "webp"])
async def test_image_api_models_use_post_images(client: Client, emulator: Emulator, fault: str | None) -> None:
    if fault:
        emulator.push_fault(Fault(fault))
    result = await client.call_tool(
        "generate_image",
        {
            "prompt": PROMPT,
            "model": "bytedance-seed/seedream-4.5",
            "image_size": "high",
            "aspect_ratio": "3:2",
        },
    )
    assert not result.is_error, text_of(result)
    sent = [r for r in emulator.requests if r.method == "POST"]
    assert sent[-1].path.endswith("/images")
    assert sent[-1].json["resolution"] == "4K" and sent[-1].json["aspect_ratio"] == "3:2"


async def test_n_images_on_the_image_api_and_a_contact_sheet_preview(client: Client) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": PROMPT, "model": "openai/gpt-image-1", "n": 3, "image_size": "low"}
    )
    assert not result.is_error, text_of(result)
    assert len(result.structured_content["images"]) == 3  # type: ignore[index]
    assert kinds(result).count("resource_link") == 3 and kinds(result).count("image") == 1


async def test_app_attribution_headers_are_sent(client: Client, emulator: Emulator) -> None:
    await client.call_tool("generate_image", {"prompt": PROMPT})
    post = [r for r in emulator.requests if r.method == "POST"][-1]
    assert post.headers.get("http-referer") and post.headers.get("x-openrouter-title") == "imagegen-mcp"


ERROR_CASES = [
    (
        Fault("http", status=400, message="Invalid request parameters"),
        "Invalid request parameters",
        "fix what the message names",
    ),
    (Fault("http", status=401), "API key was refused", "OPENROUTER_API_KEY"),
    (Fault("http", status=402), "no credits", "add credits"),
    (Fault("http", status=402, variant="credits_max_tokens"), "no credits", "add credits"),
    (Fault("http", status=403, variant="moderation"), "reasons: violence", "rephrase"),
    (Fault("http", status=404), "not available for image output", "surface="),
    (Fault("http", status=408), "timed out", "retry"),
    (Fault("http", status=429, retry_after=0), "rate limited", "retry"),
    (Fault("http", status=429, variant="upstream"), "rate limited", "retry"),
    (Fault("http", status=502), "provider failed", "retry"),
    (Fault("http", status=503, variant="availability"), "provider failed", "retry"),
    (Fault("error_200"), "rate limited", "retry"),
    (Fault("choice_error"), "provider failed", "retry"),
    (Fault("no_image_safety"), "returned no image", "safety"),
    (Fault("no_image_prohibited"), "returned no image", "safety"),
    (Fault("text_refusal"), "the model said", "rephrase"),
]


@pytest.mark.parametrize(
    ("fault", "message", "fix"),
    ERROR_CASES,
    ids=[f"{i}-{c[0].kind}" for i, c in enumerate(ERROR_CASES)],
)
async def test_each_provider_error_is_a_tool_error_with_message_and_fix(
    client: Client, settings: Settings, emulator: Emulator, fault: Fault, message: str, fix: str
) -> None:
    emulator.set_fault(fault)
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    text = text_of(result)
    assert message in text and fix in text, text
    assert "Traceback" not in text and emulator.api_key not in text
    assert result.structured_content is None
    assert files_in(settings.output_dir) == []


async def test_retryable_failures_are_retried_then_succeed(client: Client, emulator: Emulator) -> None:
    emulator.push_fault(Fault("http", status=503), times=1)
    emulator.push_fault(Fault("http", status=429, retry_after=0), times=1)
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert not result.is_error, text_of(result)
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 3


async def test_non_retryable_failures_are_not_retried(client: Client, emulator: Emulator) -> None:
    emulator.push_fault(Fault("http", status=402), times=1)
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1


async def test_retries_are_bounded_in_count(client: Client, emulator: Emulator) -> None:
    emulator.set_fault(Fault("http", status=502))
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    assert len([r for r in emulator.requests if r.method == "POST"]) == 3


async def test_a_connection_reset_is_reported_clearly(client: Client, emulator: Emulator) -> None:
    emulator.set_fault(Fault("reset"))
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error and "could not reach OpenRouter" in text_of(result)


async def test_a_missing_key_is_refused_before_any_request(settings: Settings, emulator: Emulator) -> None:
    async with Client(build_server(with_settings(settings, api_key=None))) as c:
        result = await c.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    assert "OPENROUTER_API_KEY is not set" in text_of(result) and "placeholder" in text_of(result)
    assert not [r for r in emulator.requests if r.method == "POST"]


async def test_the_api_key_never_appears_in_results_logs_or_files(
    client: Client, settings: Settings, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    outputs = [await client.call_tool("generate_image", {"prompt": PROMPT})]
    for fault in (Fault("http", status=401), Fault("http", status=500), Fault("error_200"), Fault("reset")):
        emulator.push_fault(fault, times=3)
        outputs.append(await client.call_tool("generate_image", {"prompt": PROMPT}))
    outputs.append(await client.call_tool("preflight", {}))
    for result in outputs:
        assert emulator.api_key not in result.model_dump_json()
    assert emulator.api_key not in caplog.text
    for path in files_in(settings.output_dir):
        assert emulator.api_key.encode() not in path.read_bytes()


async def test_progress_notifications_arrive_during_a_slow_generation(client: Client, emulator: Emulator) -> None:
    emulator.latency_s = 1.2
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    result = await client.call_tool("generate_image", {"prompt": PROMPT}, progress_callback=on_progress)
    assert not result.is_error
    waiting = [m for _, m in seen if m and m.startswith("waiting for")]
    assert len(waiting) >= 3  # interval 0.2 s over 1.2 s
    values = [p for p, _ in seen]
    assert values == sorted(values)


async def test_cancellation_stops_the_upstream_request(client: Client, settings: Settings, emulator: Emulator) -> None:
    emulator.latency_s = 30
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("generate_image", {"prompt": PROMPT})

            tg.start_soon(call)
            await anyio.to_thread.run_sync(emulator.wait_for_request, "/chat/completions")
            tg.cancel_scope.cancel()
        with anyio.fail_after(5):
            while not emulator.cancelled:
                await anyio.sleep(0.02)
    assert emulator.cancelled
    assert emulator.generation_count() == 0
    assert files_in(settings.output_dir) == []


async def test_dry_run_makes_no_upstream_request(client: Client, settings: Settings, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "dry_run": True, "n": 2, "out": "x/"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["dry_run"] is True and data["images"] == []  # type: ignore[index]
    assert data["request"]["n"] == 2 and data["request"]["model"] == "google/gemini-3.1-flash-image-preview"  # type: ignore[index]
    assert [r for r in emulator.requests if r.method == "POST"] == []
    assert files_in(settings.output_dir) == []


async def test_a_4096_image_result_stays_under_one_mebibyte(client: Client, emulator: Emulator) -> None:
    emulator.push_fault(Fault("size", width=4096, height=4096))
    result = await client.call_tool("generate_image", {"prompt": PROMPT})
    assert not result.is_error, text_of(result)
    [image] = result.structured_content["images"]  # type: ignore[index]
    assert (image["width"], image["height"]) == (4096, 4096)
    wire = result.model_dump_json(by_alias=True, exclude_none=True)
    assert len(wire.encode()) < 1024 * 1024


@pytest.mark.parametrize("out", ["../escape.png", "/etc/imagegen.png", "a/../../b.png"])
async def test_out_path_outside_output_dir_is_refused_and_nothing_is_written(
    client: Client, settings: Settings, emulator: Emulator, out: str
) -> None:
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "out": out})
    assert result.is_error and "outside the output directory" in text_of(result)
    assert [r for r in emulator.requests if r.method == "POST"] == []
    assert files_in(settings.output_dir) == []
    assert not (settings.output_dir.parent / "escape.png").exists()


async def test_out_names_the_file_and_a_second_call_does_not_overwrite(client: Client, settings: Settings) -> None:
    first = await client.call_tool("generate_image", {"prompt": PROMPT, "out": "foxes/dawn.png"})
    second = await client.call_tool("generate_image", {"prompt": PROMPT, "out": "foxes/dawn.png"})
    paths = [r.structured_content["images"][0]["path"] for r in (first, second)]  # type: ignore[index]
    root = settings.output_dir.resolve()
    assert paths == [str(root / "foxes" / "dawn.png"), str(root / "foxes" / "dawn-2.png")]


async def test_bad_arguments_are_tool_errors(client: Client) -> None:
    for args in (
        {"prompt": ""},
        {"prompt": "x", "n": 9},
        {"prompt": "x", "aspect_ratio": "7:3"},
        {"prompt": "x", "image_size": "huge"},
    ):
        result = await client.call_tool("generate_image", args)
        assert result.is_error, args


async def test_placeholder_works_with_no_network(settings: Settings) -> None:
    offline = with_settings(settings, provider="placeholder", api_key=None, base_url="http://127.0.0.1:9/api/v1")
    async with Client(build_server(offline)) as c:
        result = await c.call_tool("generate_image", {"prompt": PROMPT, "aspect_ratio": "9:16", "image_size": "low"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["provider"] == "placeholder" and data["cost_usd"] == 0  # type: ignore[index]
    [image] = data["images"]  # type: ignore[index]
    assert (image["width"], image["height"]) == (288, 512)


async def test_unknown_image_resource_is_a_clear_error(client: Client) -> None:
    with pytest.raises(MCPError):
        await client.read_resource("imagegen://images/bm9wZS5wbmc")


async def test_preflight_passes_against_the_emulator(client: Client) -> None:
    result = await client.call_tool("preflight", {})
    assert not result.is_error
    data = result.structured_content
    assert data["ok"] is True, json.dumps(data, indent=1)  # type: ignore[index]
    names = {c["name"] for c in data["checks"]}  # type: ignore[index]
    assert {"api_key_present", "api_key_valid", "model", "output_dir", "queue_dir", "image_codecs"} <= names


async def test_preflight_failure_is_a_report_with_fixes_not_an_error(settings: Settings) -> None:
    async with Client(build_server(with_settings(settings, api_key="sk-or-v1-wrong-key-000000"))) as c:
        result = await c.call_tool("preflight", {"model": "acme/not-a-model"})
    assert not result.is_error
    data = result.structured_content
    assert data["ok"] is False  # type: ignore[index]
    failed = {c["name"]: c for c in data["checks"] if not c["ok"]}  # type: ignore[index]
    assert "api_key_valid" in failed and failed["api_key_valid"]["fix"]
    assert "wrong-key-000000" not in result.model_dump_json()


async def test_an_invalid_option_is_named_in_the_error(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": PROMPT, "provider": "dalle"})
    assert result.is_error
    text = text_of(result)
    assert 'provider: must be one of "openrouter", "openai", "compatible"' in text and "Traceback" not in text
    assert '"placeholder"' in text
    assert [r for r in emulator.requests if r.method == "POST"] == []
