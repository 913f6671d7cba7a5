"""The linter wired into generation: hints in results, strict refusals, the edit-without-image rail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio


def text_of(result: object) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")  # type: ignore[attr-defined]


def generation_posts(emulator: Emulator) -> int:
    return len([r for r in emulator.requests if r.method == "POST"])


async def test_an_edit_prompt_without_a_baseline_is_refused_with_the_fix(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "make the sky more dramatic"})
    assert result.is_error
    text = text_of(result)
    assert "edit-needs-baseline" in text and "nothing was charged" in text
    assert "allow_no_baseline_on_edit_intent" in text
    assert generation_posts(emulator) == 0


async def test_the_edit_rail_can_be_waived(client: Client, emulator: Emulator) -> None:
    args = {"prompt": "make the sky more dramatic", "allow_no_baseline_on_edit_intent": True}
    result = await client.call_tool("generate_image", args)
    assert not result.is_error, text_of(result)
    assert generation_posts(emulator) == 1


async def test_unquoted_sign_text_comes_back_as_a_hint(client: Client) -> None:
    prompt = "A bakery storefront at night with a neon sign that says OPEN LATE, rainy street, cinematic photo"
    result = await client.call_tool("generate_image", {"prompt": prompt, "return_image": "none"})
    assert not result.is_error, text_of(result)
    rules = {h["rule"]: h for h in result.structured_content["hints"]}  # type: ignore[index]
    assert "text-unquoted" in rules
    assert '"OPEN LATE"' in rules["text-unquoted"]["fix"]
    assert "[text-unquoted]" in text_of(result)  # and in the one line of text


async def test_clarify_hints_false_returns_no_hints(client: Client) -> None:
    prompt = "A neon sign that says OPEN LATE"
    result = await client.call_tool(
        "generate_image", {"prompt": prompt, "clarify_hints": False, "return_image": "none"}
    )
    assert result.structured_content["hints"] == []  # type: ignore[index]


async def test_strict_mode_refuses_an_ambiguous_prompt_and_sends_nothing(
    client: Client, settings: Settings, emulator: Emulator
) -> None:
    prompt = "A neon sign that says OPEN LATE above a cafe door"
    result = await client.call_tool("generate_image", {"prompt": prompt, "strict_clarify": True})
    assert result.is_error
    assert "text-unquoted" in text_of(result) and "strict_clarify" in text_of(result)
    assert generation_posts(emulator) == 0
    assert not settings.output_dir.exists() or not any(settings.output_dir.rglob("*.png"))


async def test_strict_mode_lets_a_clear_prompt_through(client: Client, emulator: Emulator) -> None:
    prompt = 'A neon sign that reads "OPEN LATE" in red script above a cafe door, rainy night, photo'
    result = await client.call_tool("generate_image", {"prompt": prompt, "strict_clarify": True})
    assert not result.is_error, text_of(result)


async def test_dry_run_returns_the_hints(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "一张海报，上面写着欢迎光临", "dry_run": True})
    assert not result.is_error
    assert "text-unquoted" in {h["rule"] for h in result.structured_content["hints"]}  # type: ignore[index]
    assert generation_posts(emulator) == 0


def run_lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", "lint", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_cli_lint_strict_exits_one_when_it_would_refuse(tmp_path: Path) -> None:
    refused = run_lint("make the sky more dramatic", "--strict")
    assert refused.returncode == 1 and "edit-needs-baseline" in refused.stdout
    fine = run_lint('A poster that says "HELLO" in bold white letters on blue', "--json")
    assert fine.returncode == 0 and '"hints"' in fine.stdout
