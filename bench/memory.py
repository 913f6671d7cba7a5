"""Memory: peak RSS of the server while it generates a 4096x4096 PNG, above the idle server.

The yardstick is the size of the provider's HTTP response (a ~7 MB PNG arrives as ~10 MB of base64
JSON): holding the response, its parsed JSON and the decoded bytes is the unavoidable part.
"""

from __future__ import annotations

import tempfile

from .common import PYTHON, Figure, child_env
from .emulator_proc import EmulatorProcess
from .rawstdio import RawStdioServer, reset_peak, rss_kib

PROMPT = "A detailed city map poster, isometric, pastel colours"


def measure(return_image: str, response_bytes_out: list[int]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess() as emu:
        env = child_env(OPENROUTER_API_KEY=emu.key, OPENROUTER_BASE_URL=emu.base_url, IMAGEGEN_OUTPUT_DIR=tmp)
        with RawStdioServer([PYTHON, "-m", "imagegen_mcp", "serve"], env) as server:
            # Warm up: every module and the HTTP client loaded, with a small image.
            server.call_tool("generate_image", {"prompt": PROMPT, "return_image": return_image})
            emu.set_fault({"kind": "size", "width": 4096, "height": 4096})
            idle = rss_kib(server.pid)
            if not reset_peak(server.pid):
                raise RuntimeError("cannot reset the peak RSS counter (/proc/PID/clear_refs) on this kernel")
            result, _ = server.call_tool("generate_image", {"prompt": PROMPT, "return_image": return_image})
            peak = rss_kib(server.pid, "VmHWM")
            image_bytes = result["structuredContent"]["images"][0]["bytes"]
            response_bytes_out.append(image_bytes * 4 // 3)  # base64 of the PNG: the response body's bulk
    return (peak - idle) / 1024, idle / 1024


def run(runs: int = 1) -> list[Figure]:
    sizes: list[int] = []
    above_none, idle = measure("none", sizes)
    above_preview, _ = measure("preview", sizes)
    response_mib = sizes[0] / 1024 / 1024
    return [
        Figure(
            "memory: peak RSS above idle, 4096² PNG, no preview",
            above_none,
            response_mib,
            "MiB",
            target=3.0,
            note=f"floor = the provider response size; idle server RSS {idle:.0f} MiB",
        ),
        Figure(
            "memory: peak RSS above idle, 4096² PNG, with preview",
            above_preview,
            response_mib,
            "MiB",
            target=3.0,
            note="large PNGs decoded band by band for the preview (imaging/strips.py); fixed mmap threshold "
            "(memory.py)",
        ),
    ]
