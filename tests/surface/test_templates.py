"""Templates as MCP prompts, and the style presets of the generating tools, through a real client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, MCPError

from imagegen_mcp.lint import lint
from imagegen_mcp.surface import styles
from imagegen_mcp.surface.templates import TEMPLATES, render
from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.anyio

NAMES = ["portrait", "product", "landscape", "concept", "scene", "ecommerce"]
SUBJECTS = {
    "en": {
        "portrait": "an elderly fisherman", "product": "a coffee mug", "landscape": "a misty fjord",
        "concept": "an airship captain", "scene": "a reading nook", "ecommerce": "a leather backpack",
    },
    "zh": {
        "portrait": "一位老渔夫", "product": "一个咖啡杯", "landscape": "雾气笼罩的峡湾",
        "concept": "一位飞艇船长", "scene": "一个阅读角", "ecommerce": "一个皮革双肩包",
    },
}  # fmt: skip


def rendered_prompt(result: Any) -> str:
    [msg] = result.messages
    assert msg.role == "user" and msg.content.type == "text"
    return str(msg.content.text).split("\n\n", 1)[1]


async def test_the_six_templates_are_listed_with_the_formula_arguments(client: Client) -> None:
    listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(NAMES) <= set(listed)
    for name in NAMES:
        args = {a.name: a for a in listed[name].arguments or []}
        assert list(args) == ["subject", "action", "context", "composition", "lighting", "style", "language"]
        assert args["subject"].required and not args["style"].required
        assert all(a.description for a in args.values())


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", NAMES)
async def test_each_template_gives_a_prompt_the_linter_finds_clear(client: Client, name: str, language: str) -> None:
    subject = SUBJECTS[language][name]
    result = await client.get_prompt(name, {"subject": subject, "language": language})
    prompt = rendered_prompt(result)
    assert subject in prompt and "generate_image" in result.messages[0].content.text  # type: ignore[union-attr]
    assert lint(prompt).hints == [], [(h.rule, h.evidence) for h in lint(prompt).hints]


async def test_given_slots_replace_the_defaults_and_a_style_preset_becomes_its_description(client: Client) -> None:
    result = await client.get_prompt(
        "portrait",
        {"subject": "a violinist", "action": "tuning her violin", "lighting": "warm stage light", "style": "anime"},
    )
    prompt = rendered_prompt(result)
    assert prompt.startswith("A portrait of a violinist, tuning her violin, ")
    assert "warm stage light" in prompt and "window light" not in prompt
    assert styles.PRESETS_EN["anime"][1:] in prompt


async def test_a_language_other_than_english_or_chinese_is_refused_by_name(client: Client) -> None:
    with pytest.raises(MCPError) as err:
        await client.get_prompt("scene", {"subject": "a kitchen", "language": "fr"})
    assert "language" in str(err.value) and "zh" in str(err.value)


def test_every_template_names_all_six_parts_of_the_formula_in_both_languages() -> None:
    for template in TEMPLATES:
        for text in (template.en, template.zh):
            for slot in ("{subject}", "{action}", "{context}", "{composition}", "{lighting}", "{style}"):
                assert slot in text, (template.name, slot)
        assert render(template.name, "x", "zh") != render(template.name, "x", "en")


async def test_a_style_preset_is_appended_to_the_prompt_that_is_sent(client: Client, emulator: Emulator) -> None:
    prompt = "A red fox curled up asleep in fresh snow at dawn, close-up, soft golden light, a serene mood"
    result = await client.call_tool("generate_image", {"prompt": prompt, "style": "watercolor"})
    assert not result.is_error
    post = [r for r in emulator.requests if r.method == "POST"][-1]
    sent = str(post.json)
    assert prompt in sent and "Style: watercolour painting with soft edges and visible paper texture." in sent


async def test_a_chinese_prompt_gets_the_chinese_words_of_the_preset(client: Client) -> None:
    args = {"prompt": "雪地里熟睡的红狐狸，特写，柔和的金色光线", "style": "oil-painting", "dry_run": True}
    result = await client.call_tool("generate_image", args)
    assert result.structured_content["request"]["prompt"].endswith("风格：古典油画，笔触清晰可见。")  # type: ignore[index]


async def test_an_unknown_style_is_refused_with_the_presets(client: Client) -> None:
    result = await client.call_tool("generate_image", {"prompt": "A red fox in snow", "style": "pixel-art"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "style" in text and "watercolor" in text and "photorealistic" in text


async def test_enqueue_images_takes_the_style_too(client: Client) -> None:
    result = await client.call_tool(
        "enqueue_images", {"prompt": "A red fox in snow", "style": "cinematic", "provider": "placeholder"}
    )
    assert not result.is_error, result.content
    status = await client.call_tool("queue_status", {"request_id": result.structured_content["request_id"]})  # type: ignore[index]
    assert "Style: cinematic film still" in status.structured_content["jobs"][0]["prompt"]  # type: ignore[index]
