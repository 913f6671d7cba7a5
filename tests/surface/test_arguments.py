"""Bad tool arguments, through a real MCP client: worded errors naming the argument, strict types.

pydantic's raw text (``1 validation error for generate_imageArguments``, ``errors.pydantic.dev``)
must never reach a model, and a string is never coerced into a number or a boolean.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

P = "a red fox in fresh snow at dawn, telephoto photo"
LONG = "x" * 1500

# (tool, arguments, the argument the error must name, a word of what is allowed or the fix)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("generate_image", {"prompt": P, "n": "2"}, "n", "n=2"),
    ("generate_image", {"prompt": P, "n": 2.5}, "n", "integer"),
    ("generate_image", {"prompt": P, "n": 9}, "n", "from 1 to 4"),
    ("generate_image", {"prompt": P, "n": 0}, "n", "from 1 to 4"),
    ("generate_image", {"prompt": P, "n": None}, "n", "omit n"),
    ("generate_image", {"prompt": P, "n": True}, "n", "integer"),
    ("generate_image", {"n": 1}, "prompt", "required"),
    ("generate_image", {"prompt": ""}, "prompt", "characters"),
    ("generate_image", {"prompt": None}, "prompt", "string"),
    ("generate_image", {"prompt": 42}, "prompt", "string"),
    ("generate_image", {"prompt": "x" * 32001}, "prompt", "32000"),
    ("generate_image", {"prompt": P, "aspect_ratio": "7:3"}, "aspect_ratio", '"16:9"'),
    ("generate_image", {"prompt": P, "image_size": "huge"}, "image_size", '"medium"'),
    ("generate_image", {"prompt": P, "return_image": "full"}, "return_image", '"preview"'),
    ("generate_image", {"prompt": P, "surface": "web"}, "surface", '"chat"'),
    ("generate_image", {"prompt": P, "provider": "dalle"}, "provider", '"placeholder"'),
    ("generate_image", {"prompt": P, "overwrite": "true"}, "overwrite", "overwrite=true"),
    ("generate_image", {"prompt": P, "dry_run": 1}, "dry_run", "true or false"),
    ("generate_image", {"prompt": P, "out": LONG}, "out", "1024"),
    ("generate_image", {"prompt": P, "out": 7}, "out", "string"),
    ("generate_image", {"prompt": P, "nn": 2}, "nn", "did you mean n"),
    ("generate_image", {"prompt": P, "colour": "red"}, "colour", "not an argument"),
    ("generate_image", {"prompt": P, "must_keep": ["the logo", ""]}, "must_keep[1]", "1–200"),
    ("generate_image", {"prompt": P, "must_keep": ["the logo", 3]}, "must_keep[1]", "string"),
    ("generate_image", {"prompt": P, "must_keep": ["k"] * 21}, "must_keep", "20"),
    ("generate_image", {"prompt": P, "must_keep": "the logo"}, "must_keep", "list"),
    ("generate_image", {"prompt": P, "variation_strength": "max"}, "variation_strength", '"low"'),
    ("generate_image", {"prompt": P, "baseline_source_kind": "clipboard"}, "baseline_source_kind", "one of"),
    ("generate_image", {"prompt": P, "lock_palette": "yes"}, "lock_palette", "true or false"),
    ("enqueue_images", {"prompt": P, "count": "3"}, "count", "count=3"),
    ("enqueue_images", {"prompt": P, "count": 99}, "count", "from 1 to 16"),
    ("enqueue_images", {"prompt": P, "variant_notes": ["a", 5]}, "variant_notes[1]", "string"),
    ("enqueue_images", {"prompt": P, "start_index": -1}, "start_index", "from 1"),
    ("enqueue_images", {"prompt": P, "request_id": ""}, "request_id", "characters"),
    ("queue_status", {"wait_s": "5"}, "wait_s", "wait_s=5"),
    ("queue_status", {"limit": 1000}, "limit", "from 1 to 100"),
    ("queue_status", {"job_ids": "job_1"}, "job_ids", "list"),
    ("preflight", {"provider": 3}, "provider", "string"),
    ("preflight", {"verbose": True}, "verbose", "not an argument"),
]


IDS = [f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("tool", "args", "name", "words"), CASES, ids=IDS)
async def test_each_bad_argument_is_named_with_what_is_allowed_and_no_pydantic_text(
    client: Client, emulator: Emulator, tool: str, args: dict[str, Any], name: str, words: str
) -> None:
    result = await client.call_tool(tool, args)
    assert result.is_error
    text = "\n".join(b.text for b in result.content if b.type == "text")
    assert text.startswith("invalid arguments: "), text
    assert f"{name}:" in text or f"{name} is" in text, text
    assert words in text, text
    assert " — " in text, text  # every problem carries its fix
    for raw in ("pydantic", "validation error for", "Arguments", "Input should be", "Error executing tool"):
        assert raw not in text, text
    assert [r for r in emulator.requests if r.method == "POST"] == []  # nothing was sent, nothing billed


async def test_a_number_sent_as_a_string_is_refused_not_coerced_into_billed_images(
    client: Client, emulator: Emulator
) -> None:
    result = await client.call_tool("generate_image", {"prompt": P, "n": "2"})
    assert result.is_error
    assert 'n: must be an integer from 1 to 4 (got "2") — pass n as a number' in result.content[0].text  # type: ignore[union-attr]
    assert emulator.requests == []


async def test_a_list_sent_as_json_text_is_still_accepted(client: Client) -> None:
    # Some hosts send list arguments as JSON text; only list/object arguments are unwrapped.
    result = await client.call_tool("generate_image", {"prompt": P, "must_keep": '["the fox"]', "dry_run": True})
    assert not result.is_error, result.content


async def test_a_string_argument_that_looks_like_json_stays_a_string(client: Client) -> None:
    # The SDK's pre-parse would turn out="null" into None (and "[1]" into a list).
    result = await client.call_tool("generate_image", {"prompt": P, "out": "null", "dry_run": True})
    assert not result.is_error, result.content
    assert result.structured_content["request"]["out"] == "null"  # type: ignore[index]
