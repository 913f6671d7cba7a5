"""Results survive langchain-mcp-adapters' conversion (issue 16, item 5).

langchain-mcp-adapters 0.3.2 requires ``mcp<2.0.0,>=1.24.0`` (its METADATA), so it cannot be installed
beside this server's mcp 2.3.x: pip reports ResolutionImpossible. Its conversion is reimplemented here,
faithfully and only as far as our blocks need it, from ``langchain_mcp_adapters/tools.py`` 0.3.2,
``_convert_mcp_content_to_lc_block``:

- TextContent -> ``create_text_block(text=…)``;
- ImageContent -> ``create_image_block(base64=data, mime_type=…)``;
- ResourceLink with an ``image/*`` mime type -> ``create_image_block(url=str(uri), mime_type=…)``, any
  other -> ``create_file_block(url=str(uri), …)``.

ChatOpenAI and ChatAnthropic send an image block's ``url`` to the API as an image URL; OpenAI and
Anthropic accept only ``https:``/``data:`` there, so an ``imagegen://`` url is rejected. With
``IMAGEGEN_RESOURCE_LINKS=off`` no block carries a url: every image the model gets is base64.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import ContentBlock

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings

pytestmark = pytest.mark.anyio

PROMPT = "A red fox curled up asleep in fresh snow at dawn, close-up, soft golden light, a serene mood"
API_URL_SCHEMES = ("https://", "http://", "data:")  # what the OpenAI and Anthropic APIs take as an image url


def langchain_block(content: ContentBlock) -> dict[str, Any]:
    """``_convert_mcp_content_to_lc_block`` of langchain-mcp-adapters 0.3.2 (see the module docstring)."""
    if content.type == "text":
        return {"type": "text", "text": content.text}
    if content.type == "image":
        return {"type": "image", "base64": content.data, "mime_type": content.mime_type}
    if content.type == "resource_link":
        mime = content.mime_type or None
        kind = "image" if mime and mime.startswith("image/") else "file"
        return {"type": kind, "url": str(content.uri), "mime_type": mime}
    raise ValueError(f"not converted here: {content.type}")


def rejected(blocks: list[dict[str, Any]]) -> list[str]:
    """The urls an LLM API would refuse."""
    return [b["url"] for b in blocks if "url" in b and not b["url"].startswith(API_URL_SCHEMES)]


async def call(settings: Settings, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    async with Client(build_server(settings)) as c:
        result = await c.call_tool(tool, args)
        assert not result.is_error
        if tool == "enqueue_images":
            status = await c.call_tool(
                "queue_status",
                {"request_id": result.structured_content["request_id"], "wait_s": 20},  # type: ignore[index]
            )
            result = status
    return [langchain_block(b) for b in result.content]


async def test_by_default_a_link_becomes_an_image_url_the_llm_apis_reject(settings: Settings) -> None:
    blocks = await call(settings, "generate_image", {"prompt": PROMPT, "provider": "placeholder"})
    assert rejected(blocks) and rejected(blocks)[0].startswith("imagegen://images/")


@pytest.mark.parametrize("tool", ["generate_image", "enqueue_images"])
async def test_with_resource_links_off_every_block_survives_the_conversion(settings: Settings, tool: str) -> None:
    off = with_settings(settings, resource_links=False)
    blocks = await call(off, tool, {"prompt": PROMPT, "provider": "placeholder"})
    assert rejected(blocks) == []
    texts = " ".join(b["text"] for b in blocks if b["type"] == "text")
    assert "imagegen://images/" in texts  # the link's uri is still there, as text
    assert any(b["type"] == "image" and b.get("base64") for b in blocks)  # the preview is still seen


def test_the_setting_is_read_from_the_environment(tmp_path: Any) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    assert Settings.from_env(env).resource_links is True
    assert Settings.from_env({**env, "IMAGEGEN_RESOURCE_LINKS": "off"}).resource_links is False
