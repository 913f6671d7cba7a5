"""The router's cost: per-call overhead in-process, and a session's first call against its second.

- **Router overhead**: ``Router.chain`` + ``Router.run`` around a provider that returns a tiny PNG at
  once, against calling that provider directly — what routing adds to every call (target ≤ 1 ms).
- **First call vs second**: a fresh server over stdio against the OpenRouter emulator, the first
  ``generate_image`` of the session against the second (target ≤ 1.5×), the first one second after the
  handshake (hosts start servers well before the agent's first call; the server warms the linter and
  Pillow half a second after start). The first call still pays for the model catalogues (fetched side
  by side, not in series) and the provider's first import. A call at once after the handshake is
  reported too.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .common import PYTHON, Figure, child_env, median
from .emulator_proc import EmulatorProcess
from .rawstdio import RawStdioServer

PROMPT = "A watercolor lighthouse on a cliff at dusk, warm light in the window, gulls overhead"


def router_overhead(iterations: int) -> tuple[float, float]:
    """(routed, direct) median seconds per call, in one process, on one event loop."""
    import anyio

    from imagegen_mcp.config import Settings
    from imagegen_mcp.providers.base import Call, ProviderRequest
    from imagegen_mcp.providers.http import SharedClient
    from imagegen_mcp.providers.placeholder import PlaceholderProvider
    from imagegen_mcp.providers.registry import Providers
    from imagegen_mcp.queue.health import Health
    from imagegen_mcp.routing import Preferences, Router

    class Instant(PlaceholderProvider):
        async def run(self, request, call):  # type: ignore[no-untyped-def]
            from imagegen_mcp.providers.base import ProviderImage, ProviderResult

            return ProviderResult([ProviderImage(b"\x89PNG\r\n\x1a\n", "image/png")], "m", "placeholder")

    async def main(tmp: str) -> tuple[float, float]:
        settings = Settings(output_dir=Path(tmp), queue_dir=Path(tmp) / "q", provider="placeholder")
        providers = Providers(settings, SharedClient())
        fake = Instant()
        providers.add("placeholder", fake)
        router = Router(providers, SharedClient(), order=("openrouter", "openai", "compatible", "placeholder"),
                        default="auto", preferences=Preferences(("placeholder",)),
                        health=Health(Path(tmp) / "q", 60))  # fmt: skip
        request = ProviderRequest(prompt=PROMPT, model="")
        routed, direct = [], []
        for _ in range(iterations):
            started = time.perf_counter()
            call = Call()
            await router.run(request, call, await router.chain(request))
            routed.append(time.perf_counter() - started)
            started = time.perf_counter()
            await fake.run(request, Call())
            direct.append(time.perf_counter() - started)
        return median(routed), median(direct)

    with tempfile.TemporaryDirectory() as tmp:
        return anyio.run(main, tmp)


def first_and_second_call(runs: int, settle_s: float) -> tuple[list[float], list[float]]:
    """The first and second call of fresh servers; the first ``settle_s`` after the handshake."""
    firsts: list[float] = []
    seconds: list[float] = []
    with EmulatorProcess(latency_s=0.05) as emu, tempfile.TemporaryDirectory() as tmp:
        emu.set_fault({"kind": "size", "width": 1024, "height": 1024})
        for i in range(runs):
            env = child_env(
                OPENROUTER_API_KEY=emu.key, OPENROUTER_BASE_URL=emu.base_url, IMAGEGEN_OUTPUT_DIR=f"{tmp}/{i}"
            )
            with RawStdioServer([PYTHON, "-m", "imagegen_mcp", "serve"], env) as server:
                time.sleep(settle_s)
                for bucket in (firsts, seconds):
                    started = time.perf_counter()
                    server.call_tool("generate_image", {"prompt": PROMPT, "return_image": "none"})
                    bucket.append(time.perf_counter() - started)
    return firsts, seconds


def run(runs: int) -> list[Figure]:
    routed, direct = router_overhead(200 if runs < 5 else 2000)
    firsts, seconds = first_and_second_call(runs, 1.0)
    eager, eager_second = first_and_second_call(runs, 0.0)
    return [
        Figure(
            "router overhead per call (chain + run)",
            (routed - direct) * 1000,
            None,
            "ms",
            target=1.0,
            note=f"median routed {routed * 1000:.3f} ms − direct {direct * 1000:.3f} ms, in-process",
        ),
        Figure(
            "first call of a session vs the second",
            median(firsts) * 1000,
            median(seconds) * 1000,
            "ms",
            target=1.5,
            note=f"median of {runs} fresh stdio servers, first call 1 s after the handshake; emulator latency 50 ms",
        ),
        Figure(
            "first call at once after the handshake vs the second",
            median(eager) * 1000,
            median(eager_second) * 1000,
            "ms",
            note="reported: a call in the first half second also waits for the linter's lexicons to compile",
        ),
    ]
