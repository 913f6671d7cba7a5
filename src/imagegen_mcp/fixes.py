"""The fix of an error, worded for whoever must act on it: a tool's caller, a CLI user, or nobody (the queue).

Errors are raised once, deep down, with a ``fix`` in tool vocabulary (``provider='placeholder'``,
``use enqueue_images``) because tools are the main caller. Each surface asks :func:`fix_for`:

- ``tool``: the fix as written.
- ``cli``: tool arguments become the CLI's flags (``--provider placeholder``, ``-n 2``), tools
  become verbs (``imagegen-mcp enqueue``), "call again" becomes "run again".
- ``queue``: the job is already queued, so advice to "use enqueue_images" is dropped; a retryable
  failure says the worker retries it by itself (or that it gave up after N attempts, and what next).
"""

from __future__ import annotations

import re
from typing import Literal

from imagegen_mcp.errors import ImagegenError, RequestError

Caller = Literal["tool", "cli", "queue"]

# Tool argument → the CLI flag that sets it (``imagegen-mcp generate`` / ``enqueue`` / ``status``).
CLI_FLAGS = {
    "model": "--model", "image_size": "--image-size", "aspect_ratio": "--aspect-ratio", "n": "-n",
    "out": "--out", "overwrite": "--overwrite", "surface": "--surface", "provider": "--provider",
    "dry_run": "--dry-run", "strict_clarify": "--strict", "allow_no_baseline_on_edit_intent": "--allow-no-baseline",
    "count": "--count", "request_id": "--request-id", "out_dir": "--out-dir", "prefix": "--prefix",
    "start_index": "--start-index", "variant_notes": "--variant-note", "baseline_image": "--baseline-image",
    "confirm_external_upload": "--confirm-external-upload", "variation_strength": "--variation-strength",
    "must_keep": "--must-keep", "lock_palette": "--lock-palette", "lock_composition": "--lock-composition",
    "wait_s": "--wait", "limit": "--limit",
    "mode": "--mode", "mask": "--mask", "mask_box": "--mask-box", "expand": "--expand", "style_image": "--style-image",
    "references": "--reference", "consistency": "--consistency", "strength": "--strength",
    "negative_prompt": "--negative-prompt", "seed": "--seed", "scale": "--scale", "upscale_mode": "--mode",
}  # fmt: skip
CLI_VERBS = (
    (re.compile(r"\b(?:the )?enqueue_images(?: tool)?\b"), "imagegen-mcp enqueue"),
    (re.compile(r"\b(?:the )?queue_status(?: tool)?\b"), "imagegen-mcp status"),
    (re.compile(r"\b(?:the )?generate_image(?: tool)?\b"), "imagegen-mcp generate"),
    (re.compile(r"\b(?:the )?preflight tool\b|\bpreflight\b(?! --)"), "imagegen-mcp preflight"),
    (re.compile(r"\bcall(ing)? (again|with)\b"), r"run\1 \2"),
    (re.compile(r"\bcall(?=s? imagegen-mcp)"), "run"),
)
_ASSIGN = re.compile(r"\b(" + "|".join(sorted(CLI_FLAGS, key=len, reverse=True)) + r")=('[^']*'|\"[^\"]*\"|[^\s,;)]+)")
_NAMES = "|".join(sorted(CLI_FLAGS, key=len, reverse=True))
_LABEL = re.compile(r"(?:^|(?<=; )|(?<=: )|(?<=\())(" + _NAMES + r")(?=(?:\[\d+\])?:\s|\s(?:is|must)\b)")
_VERB_NAME = re.compile(r"\b(pass|shorten|omit|correct|give) (" + _NAMES + r")\b")
_ENQUEUE_ADVICE = re.compile(r",?\s*(?:or )?use enqueue_images[^;]*?(?=;|$)|\bor use enqueue_images\b[^,;]*,?\s*")


def fix_for(
    exc: ImagegenError, caller: Caller, *, attempts: int | None = None, max_attempts: int | None = None,
    will_retry: bool = False,
) -> str:  # fmt: skip
    """``exc.fix`` for ``caller``; the queue passes where the job's retries stand."""
    if caller == "queue":
        if exc.retryable and will_retry:
            tried = f" (attempt {attempts} of {max_attempts} failed)" if attempts and max_attempts else ""
            return f"nothing to do: the queue retries this job automatically{tried}"
        if exc.retryable:
            return (
                f"the queue gave up after {attempts or 'several'} attempts: check the provider (run preflight), "
                "then enqueue the request again with a new request_id, or pick another model or provider"
            )
        return queue_words(exc.fix)
    if caller == "cli":
        return cli_words(exc.fix)
    return exc.fix


def queue_words(text: str) -> str:
    """A fix for a job that is queued already: no advice to queue it."""
    out = _ENQUEUE_ADVICE.sub("", text).strip(" ,;")
    out = re.sub(r"\bcall again\b", "enqueue it again", out)
    return out or "see the message; enqueue the request again once it is fixed"


def cli_words(text: str) -> str:
    """Tool vocabulary → CLI vocabulary: ``provider='placeholder'`` → ``--provider placeholder``."""

    def flag(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2).strip("'\"")
        option = CLI_FLAGS[name]
        if value.lower() == "true":
            return option
        if value.lower() == "false":
            return f"--no-{option.removeprefix('--')}" if name.startswith("lock_") else f"no {option}"
        return f"{option} {value}"

    out = _ASSIGN.sub(flag, text)
    out = _LABEL.sub(lambda m: CLI_FLAGS[m.group(1)], out)
    out = _VERB_NAME.sub(lambda m: f"{m.group(1)} {CLI_FLAGS[m.group(2)]}", out)
    for pattern, replacement in CLI_VERBS:
        out = pattern.sub(replacement, out)
    return out


def cli_text(exc: ImagegenError) -> str:
    """``message — fix`` for a terminal."""
    fix = fix_for(exc, "cli")
    message = cli_words(exc.message) if isinstance(exc, RequestError) else exc.message
    return f"{message} — {fix}" if fix else message
