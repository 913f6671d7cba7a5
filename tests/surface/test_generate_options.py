"""generate_image's references (with consistency), negative_prompt, seed, background and output_format,
through a real MCP client: references reach the OpenAI emulator in order, transparency is checked on the
saved bytes, and what cannot be honoured is refused before anything is sent."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.openai import OpenAIEmulator

pytestmark = pytest.mark.anyio

PROMPT = "The same girl with a red scarf, waving, full body, flat studio light"


def png(width: int, height: int, colour: Any) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def posts(emu: OpenAIEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and "/images/" in r.path]


@pytest.fixture
def refs(tmp_path: Path) -> list[Path]:
    work = tmp_path / "work"
    work.mkdir()
    paths = []
    for i, colour in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200)]):
        path = work / f"ref{i}.png"
        path.write_bytes(png(64, 64, colour))
        paths.append(path)
    return paths


def settings_for(tmp_path: Path, provider: str, **env: str) -> Settings:
    return Settings(
        output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider=provider, workspace=(tmp_path / "work",),
        provider_env=env, retry_backoff_s=0.01, request_timeout_s=10,
    )  # fmt: skip


@pytest.fixture
async def openai_client(tmp_path: Path, openai_emu: OpenAIEmulator) -> AsyncIterator[Client]:
    env = {"OPENAI_API_KEY": openai_emu.api_key, "OPENAI_BASE_URL": openai_emu.base_url}
    async with Client(build_server(settings_for(tmp_path, "openai", **env))) as c:
        yield c


@pytest.fixture
async def offline(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(build_server(settings_for(tmp_path, "placeholder"))) as c:
        yield c


async def test_references_reach_openai_in_order_and_strict_consistency_asks_for_high_fidelity(
    openai_client: Client, openai_emu: OpenAIEmulator, refs: list[Path]
) -> None:
    result = await openai_client.call_tool(
        "generate_image", {"prompt": PROMPT, "model": "gpt-image-1.5", "references": [str(r) for r in refs],
                           "consistency": "strict", "confirm_external_upload": True},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    [sent] = posts(openai_emu)
    assert sent.api_path == "/images/edits"
    assert [p.sha256 for p in sent.parts] == [sha(r.read_bytes()) for r in refs]
    assert sent.fields["input_fidelity"] == ["high"]
    assert result.structured_content["operation"] == "generate"


async def test_references_from_a_foreign_folder_need_consent_and_nothing_is_sent(
    openai_client: Client, openai_emu: OpenAIEmulator, refs: list[Path]
) -> None:
    result = await openai_client.call_tool("generate_image", {"prompt": PROMPT, "references": [str(refs[0])]})
    assert result.is_error and "(references[0])" in text_of(result) and "confirm_external_upload" in text_of(result)
    assert posts(openai_emu) == []


async def test_nine_references_are_refused_before_anything_is_sent(
    openai_client: Client, openai_emu: OpenAIEmulator, refs: list[Path]
) -> None:
    result = await openai_client.call_tool(
        "generate_image", {"prompt": PROMPT, "references": [str(refs[0])] * 9, "confirm_external_upload": True}
    )
    assert result.is_error and "references" in text_of(result)
    assert posts(openai_emu) == []


async def test_a_transparent_background_from_a_model_that_has_it_is_checked_on_the_saved_bytes(
    openai_client: Client, openai_emu: OpenAIEmulator
) -> None:
    result = await openai_client.call_tool(
        "generate_image", {"prompt": "A round red sticker of a fox, flat vector", "background": "transparent",
                           "model": "gpt-image-2.5-sunburst"},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    [image] = result.structured_content["images"]
    assert image["transparent"] is True
    assert not [h for h in result.structured_content["hints"] if h["rule"] == "not-transparent"]


async def test_a_transparent_background_on_a_model_without_it_is_refused_before_any_request(
    openai_client: Client, openai_emu: OpenAIEmulator
) -> None:
    result = await openai_client.call_tool(
        "generate_image", {"prompt": "A round red sticker of a fox, flat vector", "background": "transparent",
                           "model": "gpt-image-2"},
    )  # fmt: skip
    assert result.is_error and "nothing was sent" in text_of(result)
    assert posts(openai_emu) == []


async def test_an_opaque_result_for_a_transparent_request_is_flagged_with_the_fix(offline: Client) -> None:
    result = await offline.call_tool(
        "generate_image", {"prompt": "A round red sticker of a fox, flat vector", "background": "transparent"}
    )
    assert not result.is_error, text_of(result)
    [image] = result.structured_content["images"]
    assert image["transparent"] is False
    [hint] = [h for h in result.structured_content["hints"] if h["rule"] == "not-transparent"]
    assert "mode=remove_background" in hint["fix"] and image["uri"] in hint["fix"]


async def test_jpeg_cannot_carry_a_transparent_background(offline: Client) -> None:
    result = await offline.call_tool(
        "generate_image", {"prompt": "A round red sticker", "background": "transparent", "output_format": "jpeg"}
    )
    assert result.is_error and "JPEG has no alpha channel" in text_of(result)


async def test_seed_and_negative_prompt_openai_cannot_honour_are_refused_when_it_is_pinned(
    openai_client: Client, openai_emu: OpenAIEmulator
) -> None:
    for extra in ({"seed": 7}, {"negative_prompt": "blur"}):
        result = await openai_client.call_tool("generate_image", {"prompt": PROMPT, **extra})
        assert result.is_error and f"cannot honour {next(iter(extra))}" in text_of(result)
    assert posts(openai_emu) == []


async def test_consistency_without_references_is_refused(offline: Client) -> None:
    result = await offline.call_tool("generate_image", {"prompt": PROMPT, "consistency": "strict"})
    assert result.is_error and "consistency needs references" in text_of(result)


async def test_a_reference_generation_with_seed_and_negative_prompt_runs_offline(
    offline: Client, refs: list[Path]
) -> None:
    result = await offline.call_tool(
        "generate_image", {"prompt": PROMPT, "references": [str(refs[0])], "consistency": "balanced", "seed": 42,
                           "negative_prompt": "blur", "output_format": "png", "confirm_external_upload": True},
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    assert result.structured_content["images"][0]["transparent"] is None
