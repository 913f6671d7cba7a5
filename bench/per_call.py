"""Per-call overhead: generate_image over stdio against a floor that does only the unavoidable work.

Both talk to the same emulator process (no added latency, a 1024x1024 PNG per request). The floor is
one httpx2 POST of the same chat request, JSON parse, base64 decode, and a durable file write
(tmp → fsync → rename, which this project promises). The server adds: JSON-RPC over stdio, argument
validation, prompt lint, sniffing and measuring the image, and the result. Previews are measured
separately (``return_image="preview"``) because they re-encode the image.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from pathlib import Path

import httpx2

from .common import PYTHON, Figure, child_env, interleaved, median
from .emulator_proc import EmulatorProcess
from .rawstdio import RawStdioServer

PROMPT = "A watercolor lighthouse on a cliff at dusk, warm light in the window, gulls overhead"
MODEL = "google/gemini-3.1-flash-image-preview"


BODY = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "modalities": ["image", "text"]}


def keep(response: httpx2.Response, out_dir: Path) -> None:
    """The floor's unavoidable work after the POST: parse, decode, durable write (tmp → fsync → rename)."""
    url = response.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    data = base64.b64decode(url.partition(",")[2])
    tmp = out_dir / f".floor-{time.perf_counter_ns()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out_dir / f"floor-{time.perf_counter_ns()}.png")


def floor_call(http: httpx2.Client, emu: EmulatorProcess, out_dir: Path) -> float:
    started = time.perf_counter()
    keep(
        http.post(f"{emu.base_url}/chat/completions", headers={"Authorization": f"Bearer {emu.key}"}, json=BODY),
        out_dir,
    )
    return time.perf_counter() - started


def async_floor_calls(emu: EmulatorProcess, out_dir: Path, runs: int) -> list[float]:
    """The floor done the way a server must do it: on an event loop, with httpx2.AsyncClient."""
    import anyio

    async def main() -> list[float]:
        times = []
        async with httpx2.AsyncClient(timeout=30) as http:
            for i in range(runs + 2):  # the first two warm up
                started = time.perf_counter()
                url = f"{emu.base_url}/chat/completions"
                keep(await http.post(url, headers={"Authorization": f"Bearer {emu.key}"}, json=BODY), out_dir)
                if i >= 2:
                    times.append(time.perf_counter() - started)
        return times

    return anyio.run(main)


def sdk_round_trip(runs: int) -> list[float]:
    """One tools/call of a bare one-tool MCPServer over stdio: what the SDK and stdio cost per call."""
    from .common import ROOT

    with RawStdioServer([PYTHON, str(ROOT / "bench" / "floor_server.py")], child_env()) as server:
        for _ in range(3):
            server.call_tool("ping", {})
        times = []
        for _ in range(runs * 5):
            started = time.perf_counter()
            server.call_tool("ping", {})
            times.append(time.perf_counter() - started)
    return times


def ours_call(server: RawStdioServer, return_image: str) -> float:
    started = time.perf_counter()
    server.call_tool("generate_image", {"prompt": PROMPT, "return_image": return_image})
    return time.perf_counter() - started


def run(runs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess() as emu:
        emu.set_fault({"kind": "size", "width": 1024, "height": 1024})
        out = Path(tmp)
        env = child_env(
            OPENROUTER_API_KEY=emu.key, OPENROUTER_BASE_URL=emu.base_url, IMAGEGEN_OUTPUT_DIR=str(out / "ours")
        )
        with RawStdioServer([PYTHON, "-m", "imagegen_mcp", "serve"], env) as server, httpx2.Client(timeout=30) as http:
            (out / "floor").mkdir()
            ours, floor = interleaved(
                lambda: ours_call(server, "none"), lambda: floor_call(http, emu, out / "floor"), runs, 2
            )
            preview, floor2 = interleaved(
                lambda: ours_call(server, "preview"), lambda: floor_call(http, emu, out / "floor"), runs, 1
            )
            async_floor = async_floor_calls(emu, out / "floor", runs)
    ping = sdk_round_trip(runs)
    return [
        Figure(
            "per call: generate_image, return_image=none",
            median(ours) * 1000,
            median(floor) * 1000,
            "ms",
            target=1.3,
            note=f"median of {runs}; floor = POST + JSON + decode + durable write of the same 1024x1024 PNG",
        ),
        Figure(
            "per call: none, against an async floor",
            median(ours) * 1000,
            median(async_floor) * 1000,
            "ms",
            note="the same floor on an event loop with httpx2.AsyncClient, as a server must do it (reported)",
        ),
        Figure(
            "per call: SDK round trip (bare ping tool)",
            median(ping) * 1000,
            None,
            "ms",
            note="JSON-RPC over stdio through mcp's MCPServer, no work: part of every call, not ours to cut",
        ),
        Figure(
            "per call: generate_image with preview",
            median(preview) * 1000,
            median(floor2) * 1000,
            "ms",
            note="the preview's extra cost (decode + resize + JPEG encode) is reported, not targeted",
        ),
    ]
