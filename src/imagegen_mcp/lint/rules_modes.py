"""Edit modes: what a prompt for ``inpaint`` and ``outpaint`` should say (rules ``inpaint-whole-picture``,
``outpaint-not-extension``).

An inpaint prompt is drawn into the masked area only: "a round window" works, "a cosy living room with a
round window and a sofa" describes the whole picture and models then redraw a whole room into the mask.
An outpaint prompt describes what appears in the new border (the extension); an instruction to change the
existing picture ("make the sky darker", "remove the car") is ignored by outpainting, which keeps the
picture as it is. Both are warnings: the request is still sent.
"""

from __future__ import annotations

import re

from .base import Ctx, Signals, hint
from .doc import Doc
from .models import LintHint

_WHOLE = re.compile(
    r"\b(?:the\s+(?:whole|entire|full)\s+(?:image|picture|photo|scene|frame)|whole\s+(?:image|picture|scene)"
    r"|entire\s+(?:image|picture|scene)|everything(?:\s+else)?|(?:this|the)\s+(?:image|picture|photo)\s+"
    r"(?:shows|of|with)|a\s+(?:photo|picture|painting|image)\s+of)\b",
    re.IGNORECASE,
)
_ZH_WHOLE = re.compile(r"整(?:张|个|幅)(?:图|画面|照片)|全图|整体画面")
_CHANGE = re.compile(
    r"(?:^|[.!;]\s*)(?:please\s+)?(?:change|replace|remove|delete|recolou?r|make\s+(?:the|it|this))\b",
    re.IGNORECASE,
)


def inpaint_whole_picture(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``inpaint-whole-picture``: an inpaint prompt that describes the whole picture, not the masked area."""
    if ctx.operation != "inpaint":
        return []
    m = _WHOLE.search(doc.text) or _ZH_WHOLE.search(doc.text)
    if m is None:
        return []
    return [
        hint(
            doc,
            "inpaint-whole-picture",
            "warning",
            "An inpaint prompt is drawn into the masked area only, but this one describes the whole picture.",
            'Describe only what goes in the masked area, e.g. "a round wooden window with a brass frame".',
            m.span(),
        )
    ]


def outpaint_not_extension(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``outpaint-not-extension``: an outpaint prompt that asks to change the existing picture."""
    if ctx.operation != "outpaint":
        return []
    m = _CHANGE.search(doc.text)
    if m is None:
        return []
    return [
        hint(
            doc,
            "outpaint-not-extension",
            "warning",
            "Outpainting keeps the picture and draws only the new border; a change to the picture is ignored.",
            'Describe what continues beyond the edges, e.g. "more sandy beach and a calm sea to the right"; '
            "change the picture itself with mode edit or inpaint.",
            (m.start() + len(m.group(0)) - len(m.group(0).lstrip(".!; ")), m.end()),
        )
    ]
