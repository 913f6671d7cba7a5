"""Style presets: the ``style`` argument of the generating tools, and the templates' style slot.

The six presets are the gallery's (reference/origins/5-generic-image-skill.txt, ``STYLE_MAP``), each
rewritten as a short description of the look: the gallery's quality boosters ("4K", "high detail",
"artstation trending") and its living-studio name ("studio ghibli inspired") are left out, because the
prompt linter flags boosters as adding nothing (rule ``quality-boilerplate``) and a named look says more.

``style`` is *appended* to the prompt as one sentence ("Style: …."), in Chinese when the prompt is
written in Chinese, so the prompt that is linted, sent and recorded (``request.prompt``) is exactly
what the model receives. Any other text is refused with the list of presets; say anything else in
the prompt itself.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

StyleName = Literal["photorealistic", "anime", "cinematic", "digital-art", "oil-painting", "watercolor"]

PRESETS_EN: dict[str, str] = {
    "photorealistic": "photorealistic professional photography with fine natural detail",
    "anime": "anime illustration, cel-shaded with vibrant colours",
    "cinematic": "cinematic film still with fine film grain and an anamorphic lens flare",
    "digital-art": "digital concept art with clean, crisp rendering",
    "oil-painting": "classical oil painting with visible brush strokes",
    "watercolor": "watercolour painting with soft edges and visible paper texture",
}
PRESETS_ZH: dict[str, str] = {
    "photorealistic": "写实摄影，专业相机拍摄，细节自然",
    "anime": "日式动漫插画，赛璐璐上色，色彩鲜明",
    "cinematic": "电影剧照质感，细腻胶片颗粒，变形宽银幕镜头光晕",
    "digital-art": "数字概念艺术，干净利落的渲染",
    "oil-painting": "古典油画，笔触清晰可见",
    "watercolor": "水彩画，边缘柔和，可见纸张纹理",
}

StyleArg = Annotated[StyleName | None, Field(description="Look preset, appended to the prompt")]

_CJK = re.compile(r"[\u4e00-\u9fff]")


def is_chinese(text: str) -> bool:
    """Mostly Chinese: more CJK characters than Latin letters."""
    return len(_CJK.findall(text)) > len(re.findall(r"[A-Za-z]", text))


def describe(style: str, language: str = "en") -> str:
    """The preset's words (``style`` itself when it is not a preset: the templates take free text)."""
    table = PRESETS_ZH if language == "zh" else PRESETS_EN
    return table.get(style, style)


def apply(prompt: str, style: str | None) -> str:
    """``prompt`` with the preset appended as one sentence; unchanged without a style."""
    if not style:
        return prompt
    base = prompt.rstrip()
    if is_chinese(prompt):
        end = "" if base.endswith(("。", "！", "？", ".", "!", "?")) else "。"
        return f"{base}{end}风格：{describe(style, 'zh')}。"
    end = "" if base.endswith((".", "!", "?")) else "."
    return f"{base}{end} Style: {describe(style)}."
