"""Prompt templates as MCP prompts (``prompts/list``, ``prompts/get``): portrait, product, landscape,
concept, scene, ecommerce.

They come from the gallery of reference/origins/5-generic-image-skill.txt and its structured formula
(subject, action, context, composition, lighting, style). Unlike the gallery's comma-separated tag
strings, each template is written as sentences — image models follow described scenes better than tag
lists, and the project's linter says so (rule ``keyword-list``) — and every slot has a default that
suits the template, so a template filled with only a subject already passes the linter with no hint
(tests/surface/test_templates.py checks every template in both languages). Mood, which the linter also
asks for, rides in each template's default lighting.

``language``: ``en`` (default) or ``zh``. ``style``: a preset name (see surface/styles.py) or free text.
A host shows these as slash commands; the returned user message asks for ``generate_image`` with the
rendered prompt, which the user can still edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp import MCPError
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt
from pydantic import Field

from imagegen_mcp.surface import styles

INVALID_PARAMS = -32602
SLOTS = ("action", "context", "composition", "lighting", "style")


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    en: str  # with {subject} {action} {context} {composition} {lighting} {style}
    zh: str
    defaults_en: dict[str, str]
    defaults_zh: dict[str, str]


TEMPLATES: tuple[Template, ...] = (
    Template(
        "portrait", "Portrait", "A person or character, close up",
        "A portrait of {subject}, {action}, {context}. {composition}. {lighting}. {style}.",
        "{subject}的人像，{action}，{context}。{composition}。{lighting}。{style}。",
        {"action": "looking into the camera with a relaxed smile",
         "context": "in a quiet studio in front of a plain grey backdrop",
         "composition": "Head-and-shoulders close-up with an 85mm lens and a shallow depth of field",
         "lighting": "Soft natural window light from the left gives a calm, intimate mood",
         "style": "photorealistic"},
        {"action": "面带轻松的微笑看向镜头", "context": "在安静的影棚里，背景是纯灰色幕布",
         "composition": "头肩特写，85毫米镜头，浅景深", "lighting": "柔和的自然光从左侧窗户照进来，氛围宁静亲切",
         "style": "photorealistic"},
    ),
    Template(
        "product", "Product", "A product shot for a catalogue or launch",
        "Professional product photography of {subject}, {action}, {context}. {composition}. {lighting}. {style}.",
        "{subject}的专业产品摄影，{action}，{context}。{composition}。{lighting}。{style}。",
        {"action": "standing upright with its front facing the camera",
         "context": "on a seamless light-grey studio background",
         "composition": "Centred three-quarter view with generous negative space",
         "lighting": "Soft studio lighting with a gentle reflection below gives a clean, premium mood",
         "style": "photorealistic"},
        {"action": "正面朝向镜头直立摆放", "context": "放在无缝浅灰色影棚背景上",
         "composition": "居中的四分之三视角，四周留白充足", "lighting": "柔和的影棚灯光，下方有淡淡倒影，氛围简洁高级",
         "style": "photorealistic"},
    ),
    Template(
        "landscape", "Landscape", "Nature, scenery, a place",
        "A landscape of {subject}, {action}, {context}. {composition}. {lighting}. {style}.",
        "{subject}的风景，{action}，{context}。{composition}。{lighting}。{style}。",
        {"action": "under slowly drifting clouds",
         "context": "deep in untouched wilderness",
         "composition": "Wide shot from a low vantage point with the horizon on the lower third",
         "lighting": "Golden-hour light with long shadows gives a serene mood",
         "style": "photorealistic"},
        {"action": "天空中云朵缓缓飘过", "context": "位于人迹罕至的荒野深处",
         "composition": "低机位远景，地平线位于画面下三分之一", "lighting": "黄金时刻的光线拉出长长的影子，氛围宁静",
         "style": "photorealistic"},
    ),
    Template(
        "concept", "Concept art", "A character, creature, vehicle or world design",
        "Concept art of {subject}, {action}, {context}. {composition}. {lighting}. {style}.",
        "{subject}的概念设计，{action}，{context}。{composition}。{lighting}。{style}。",
        {"action": "standing ready for a long journey",
         "context": "in an imagined world with its own distinct architecture",
         "composition": "Full-body three-quarter view with a clear silhouette",
         "lighting": "Dramatic rim light against a dusky sky gives a hopeful, adventurous mood",
         "style": "digital-art"},
        {"action": "整装待发，准备踏上漫长的旅程", "context": "身处一个拥有独特建筑风格的幻想世界",
         "composition": "全身四分之三视角，轮廓清晰", "lighting": "黄昏天空下戏剧性的轮廓光，氛围充满希望与冒险",
         "style": "digital-art"},
    ),
    Template(
        "scene", "Scene", "An interior or exterior space",
        "A scene of {subject}, {action}, {context}. {composition}. {lighting}. {style}.",
        "{subject}的场景，{action}，{context}。{composition}。{lighting}。{style}。",
        {"action": "arranged for everyday use",
         "context": "inside a sunlit living room with oak floors and linen curtains",
         "composition": "Eye-level wide shot in one-point perspective",
         "lighting": "Warm afternoon sunlight through large windows gives a relaxed, homely mood",
         "style": "photorealistic"},
        {"action": "按日常使用的样子布置", "context": "位于铺着橡木地板、挂着亚麻窗帘的明亮客厅里",
         "composition": "平视广角，一点透视", "lighting": "午后温暖的阳光透过大窗洒入，氛围轻松温馨",
         "style": "photorealistic"},
    ),
    Template(
        "ecommerce", "E-commerce", "A listing image: the item alone on white",
        "A professional e-commerce photograph of {subject}, {action}, {context}. {composition}. {lighting}. "
        "{style}.",
        "{subject}的专业电商主图，{action}，{context}。{composition}。{lighting}。{style}。",
        {"action": "shown whole and in sharp detail",
         "context": "on a pure white background",
         "composition": "Centred front view that fills most of the frame",
         "lighting": "Even studio lighting with soft shadows gives a clean, trustworthy mood",
         "style": "photorealistic"},
        {"action": "完整呈现，细节清晰", "context": "放在纯白背景上",
         "composition": "居中的正面视角，主体占据画面大部分", "lighting": "均匀的影棚灯光，阴影柔和，氛围干净可信",
         "style": "photorealistic"},
    ),
)  # fmt: skip
BY_NAME = {t.name: t for t in TEMPLATES}
LANGUAGES = ("en", "zh")


def render(name: str, subject: str, language: str = "en", **slots: str | None) -> str:
    """The image prompt of template ``name``: given slots, the template's defaults for the rest."""
    template = BY_NAME[name]
    if language not in LANGUAGES:
        raise ValueError(f"language must be 'en' or 'zh', not {language!r} — pass language=en or language=zh")
    defaults = template.zh if language == "zh" else template.en
    values = template.defaults_zh if language == "zh" else template.defaults_en
    filled = {k: (slots.get(k) or "").strip().rstrip(".。") or values[k] for k in SLOTS}
    filled["style"] = styles.describe(filled["style"], language)
    if language == "en":
        filled["style"] = filled["style"][:1].upper() + filled["style"][1:]
    return defaults.format(subject=subject.strip().rstrip(".。"), **filled)


def message(name: str, prompt: str, language: str) -> str:
    if language == "zh":
        return f"请用 generate_image 生成这张图片（可先修改提示词）：\n\n{prompt}"
    return f"Make this image with generate_image (edit the prompt first if you like):\n\n{prompt}"


def _prompt_fn(template: Template) -> Callable[..., str]:
    def fill(
        subject: Annotated[str, Field(description="Who or what the image shows")],
        action: Annotated[str, Field(description="What the subject does")] = "",
        context: Annotated[str, Field(description="Where: setting, background")] = "",
        composition: Annotated[str, Field(description="Framing, lens, angle")] = "",
        lighting: Annotated[str, Field(description="Light and mood")] = "",
        style: Annotated[str, Field(description="A preset (" + ", ".join(styles.PRESETS_EN) + ") or any look")] = "",
        language: Annotated[str, Field(description="en or zh")] = "en",
    ) -> str:
        if language not in LANGUAGES:  # an MCPError reaches the client as is; anything else loses its words
            raise MCPError(code=INVALID_PARAMS, message=f"language must be 'en' or 'zh', not {language!r}")
        prompt = render(
            template.name, subject, language,
            action=action, context=context, composition=composition, lighting=lighting, style=style,
        )  # fmt: skip
        return message(template.name, prompt, language)

    return fill


def register_templates(mcp: MCPServer[Any]) -> None:
    for template in TEMPLATES:
        mcp.add_prompt(
            Prompt.from_function(
                _prompt_fn(template),
                name=template.name,
                title=template.title,
                description=f"{template.description}: subject, action, context, composition, lighting, style; "
                "English or Chinese (language=zh)",
            )
        )
