"""``imagegen-mcp demo``: the main job end to end, as a host would do it.

Starts ``imagegen-mcp serve`` as a child over stdio, calls ``preflight`` and ``generate_image``
through the MCP client, and says where the image was saved. With no ``OPENROUTER_API_KEY`` it uses
the offline placeholder provider and says so, so it works on a fresh machine with no key and no
network.
"""

from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_PROMPT = (
    "A cozy reading nook by a rain-streaked window at dusk, warm lamp light, a sleeping orange cat on a "
    'knitted blanket, watercolor illustration, a small sign on the shelf that says "QUIET"'
)
# A stdio child gets only a minimal environment from the SDK; pass what the server reads.
PASSED_THROUGH = (
    "OPENROUTER_API_KEY",
    "OPENROUTER_BASE_URL",
    "IMAGEGEN_PROVIDER",
    "IMAGEGEN_MODEL",
    "IMAGEGEN_OUTPUT_DIR",
    "IMAGEGEN_QUEUE_DIR",
    "IMAGEGEN_TIMEOUT_S",
    "HOME",
    "XDG_PICTURES_DIR",
)


def run_demo(prompt: str | None = None) -> int:
    import anyio

    try:
        return anyio.run(_demo, prompt or DEFAULT_PROMPT)
    except Exception as exc:  # the child died or never answered: say so plainly, not as a traceback
        say(f"The demo could not talk to the server ({type(exc).__name__}: {exc}).")
        say("Its own error, if any, is printed above; run 'imagegen-mcp preflight' to check the set-up.")
        return 1


async def _demo(prompt: str) -> int:
    from mcp import Client, StdioServerParameters

    env = {k: os.environ[k] for k in PASSED_THROUGH if os.environ.get(k)}
    offline = not env.get("OPENROUTER_API_KEY") or env.get("IMAGEGEN_PROVIDER") == "placeholder"
    if offline:
        env["IMAGEGEN_PROVIDER"] = "placeholder"
        say("No OPENROUTER_API_KEY is set: using the offline placeholder provider (no network, no cost).")
        say("Set OPENROUTER_API_KEY to make real images.")
    params = StdioServerParameters(command=sys.executable, args=["-m", "imagegen_mcp", "serve"], env=env)
    say(f"Starting the server over stdio: {sys.executable} -m imagegen_mcp serve")
    async with Client(params) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        say(f"Connected. Tools: {', '.join(tools)}")

        report = await client.call_tool("preflight", {})
        data: dict[str, Any] = report.structured_content or {}
        say(f"preflight: {'ready' if data.get('ok') else 'NOT ready'}")
        for check in data.get("checks", []):
            mark = "ok  " if check["ok"] else "FAIL"
            say(
                f"  {mark} {check['name']}: {check['detail']}"
                + (f"\n       fix: {check['fix']}" if check.get("fix") else "")
            )
        if not data.get("ok"):
            say("Fix the failing checks above, then run the demo again.")
            return 1

        say(f'generate_image: "{prompt[:70]}…"')
        result = await client.call_tool(
            "generate_image", {"prompt": prompt, "aspect_ratio": "3:2"},
            progress_callback=_progress,
        )  # fmt: skip
        text = " ".join(getattr(block, "text", "") for block in result.content if block.type == "text")
        if result.is_error:
            say(f"generate_image failed: {text}")
            return 1
        kinds = [block.type for block in result.content]
        out = result.structured_content or {}
        say(f"The host received: {', '.join(kinds)}")
        for image in out.get("images", []):
            say(f"Saved: {image['path']} ({image['width']}x{image['height']}, {image['bytes']:,} bytes)")
        cost = out.get("cost_usd")
        say(
            f"Provider {out.get('provider')}, model {out.get('model')}, cost ${cost or 0:.4f}, {out.get('elapsed_s')} s"
        )
        for hint in out.get("hints", []):
            say(f"  hint [{hint['rule']}]: {hint['fix']}")
    return 0


async def _progress(progress: float, total: float | None, message: str | None) -> None:
    say(f"  … {message or ''}")


def say(line: str) -> None:
    print(line, flush=True)
