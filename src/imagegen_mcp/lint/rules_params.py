"""Prompt text vs request parameters: aspect-in-text, aspect-conflict, orientation-mismatch,
foreign-syntax, language-support."""

from __future__ import annotations

import functools
import re

from . import lexicon as lx
from . import policy
from .base import Ctx, Signals, hint
from .doc import Doc
from .models import Lang, LintHint, Severity

PLAUSIBLE_RATIOS: frozenset[str] = frozenset(
    {
        "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "9:21", "1:2", "2:1",
        "1:4", "4:1", "1:8", "8:1", "9:19.5", "19.5:9", "9:20", "20:9", "2.39:1", "2.35:1", "1.85:1",
        "3:1", "1:3",
    }
)  # fmt: skip
_RATIO = re.compile(r"(?<![\d.:])(\d{1,2}(?:\.\d{1,2})?)\s?:\s?(\d{1,2}(?:\.\d{1,2})?)(?![\d:])")
_AMPM = re.compile(r"\s*(?:am|pm|a\.m\.|p\.m\.|o'clock|h\b|时|點|点)", re.IGNORECASE)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x×/]\s*(\d+(?:\.\d+)?)\s*$")
_MJ_AR = re.compile(r"--(?:ar|aspect)\b", re.IGNORECASE)


def parse_ratio(value: str | None) -> float | None:
    """``"16:9"`` or ``"1024x576"`` → width / height; None when absent or unreadable."""
    if not value:
        return None
    m = _SIZE.match(value)
    if not m:
        return None
    w, h = float(m.group(1)), float(m.group(2))
    if w <= 0 or h <= 0:
        return None
    return w / h


def _orientation(ratio: float) -> str:
    if abs(ratio - 1.0) < 0.02:
        return "square"
    return "landscape" if ratio > 1 else "portrait"


_EXAMPLE = {"landscape": "16:9", "portrait": "9:16", "square": "1:1"}
_ZH_NAME = {"landscape": "横版", "portrait": "竖版", "square": "方形"}


def _ratios(doc: Doc, sig: Signals) -> list[tuple[int, int, str, float]]:
    masked = doc.masked
    not_context = lx.anchored("en", "ratio_not_context", "end")
    out: list[tuple[int, int, str, float]] = []
    for m in _RATIO.finditer(masked):
        token = f"{m.group(1)}:{m.group(2)}"
        if token not in PLAUSIBLE_RATIOS or sig.quiet(*m.span()):
            continue
        if not_context.search(masked[max(0, m.start() - 30) : m.start()]) or _AMPM.match(masked, m.end()):
            continue
        out.append((m.start(), m.end(), token, float(m.group(1)) / float(m.group(2))))
    return out


@functools.cache
def _orientation_patterns() -> tuple[tuple[str, re.Pattern[str], Lang], ...]:
    out: list[tuple[str, re.Pattern[str], Lang]] = []
    for lang in ("en", "zh"):
        for kind in ("landscape", "portrait", "square"):
            out.append((kind, lx.pattern(lang, f"orientation.{kind}"), "zh" if lang == "zh" else "en"))
    return tuple(out)


def _orientations(doc: Doc, sig: Signals) -> list[tuple[int, int, str, Lang]]:
    found = [
        (m.start(), m.end(), kind, lang)
        for kind, pat, lang in _orientation_patterns()
        for m in pat.finditer(doc.masked)
        if not sig.quiet(*m.span())
    ]
    return sorted(found)


def aspect_rules(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``aspect-in-text`` (no parameter), ``aspect-conflict`` (≠ parameter), ``orientation-mismatch``."""
    out: list[LintHint] = []
    for s, e, token, value in _ratios(doc, sig):
        lang: Lang = "zh" if lx.HAN_RE.search(doc.masked[max(0, s - 4) : e + 4]) else "en"
        mj = bool(_MJ_AR.search(doc.masked[max(0, s - 8) : s]))
        if ctx.ratio is None:
            severity: Severity = "info" if mj and ctx.family == "midjourney" else "warning"
            out.append(
                hint(
                    doc,
                    "aspect-in-text",
                    severity,
                    f"The aspect ratio {token} is written in the prompt; models treat it as a loose hint at best.",
                    f'Remove "{token}" from the prompt and pass aspect_ratio="{token}" instead.',
                    (s, e),
                    lang=lang,
                    ambiguity=True,
                )
            )
        elif abs(value - ctx.ratio) / ctx.ratio > 0.02:
            out.append(
                hint(
                    doc,
                    "aspect-conflict",
                    "error",
                    f"The prompt says {token} but aspect_ratio is {ctx.ratio_text}; the model will crop or pad.",
                    f'Make them agree: set aspect_ratio="{token}", or remove "{token}" from the prompt.',
                    (s, e),
                    lang=lang,
                    ambiguity=True,
                )
            )
    for s, e, kind, lang in _orientations(doc, sig):
        word = doc.text[s:e]
        if ctx.ratio is None:
            out.append(
                hint(
                    doc,
                    "aspect-in-text",
                    "warning",
                    f'"{word}" asks for a {kind} image in words; the shape is set by the aspect_ratio parameter.',
                    f'Pass aspect_ratio="{_EXAMPLE[kind]}" (or another {kind} ratio) and drop "{word}".',
                    (s, e),
                    lang=lang,
                    ambiguity=True,
                )
            )
            continue
        have = _orientation(ctx.ratio)
        if have != kind:
            out.append(
                hint(
                    doc,
                    "orientation-mismatch",
                    "warning",
                    f'"{word}" asks for a {kind} image but aspect_ratio={ctx.ratio_text} is {have}.',
                    (
                        f"把 aspect_ratio 改为 {_EXAMPLE[kind]}（{_ZH_NAME[kind]}），或删掉「{word}」。"
                        if lang == "zh"
                        else f'Set aspect_ratio="{_EXAMPLE[kind]}" for a {kind} image, or drop "{word}".'
                    ),
                    (s, e),
                    lang=lang,
                    ambiguity=True,
                )
            )
    return out


def foreign_syntax(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``foreign-syntax``: Midjourney parameters and A1111/ComfyUI weights, read as literal text by hosted APIs."""
    out: list[LintHint] = []
    groups: tuple[tuple[str, str, str], ...] = (
        ("en", "foreign_mj", "midjourney"),
        ("en", "foreign_sd", "stability"),
        ("zh", "foreign", "stability"),
    )
    seen: list[tuple[int, int]] = []
    for lang, key, owner in groups:
        if ctx.family == owner:
            continue
        for m in lx.pattern(lang, key).finditer(doc.masked):
            s, e = m.span()
            if any(a < e and s < b for a, b in seen) or sig.quiet(s, e):
                continue
            seen.append((s, e))
            token = doc.text[s:e].strip()
            if owner == "midjourney":
                if _MJ_AR.match(token):
                    fix = f'Remove "{token}" and pass the aspect_ratio parameter instead.'
                elif token.lower().startswith("--no"):
                    fix = f'Remove "{token}" and describe the scene positively (what is there, not what is not).'
                else:
                    fix = f'Remove "{token}": it is Midjourney syntax and this model reads it as text.'
                message = f'"{token}" is a Midjourney parameter; this model reads it as part of the prompt.'
            else:
                fix = (
                    f'Remove the weight syntax "{token}"; say it once in words (emphasis comes from order and detail).'
                )
                message = f'"{token}" is Stable Diffusion WebUI/ComfyUI syntax; this model reads it as literal text.'
            out.append(
                hint(
                    doc,
                    "foreign-syntax",
                    "warning",
                    message,
                    fix,
                    (s, e),
                    lang="zh" if lx.HAN_RE.search(token) else "en",
                )
            )
    return out


def language_support(doc: Doc, ctx: Ctx, sig: Signals) -> list[LintHint]:
    """``language-support``: a Chinese prompt for a family whose documentation lists English only."""
    supported = policy.LANGUAGES.get(ctx.family)
    if supported is None or "zh" in supported or doc.han_chars == 0:
        return []
    if doc.en_words > doc.han_chars:
        return []
    return [
        hint(
            doc,
            "language-support",
            "info",
            f"A Chinese prompt; {ctx.family} documents English prompts.",
            "Consider an English prompt (keep any text to render in its original language, in quotes).",
            None,
            lang="zh",
        )
    ]
