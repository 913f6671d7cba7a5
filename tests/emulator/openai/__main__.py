"""Run by hand: `python -m tests.emulator.openai --port 8124 [--gateway] [--prefix ''] [--key KEY]`.

Prints `openai emulator listening on <base_url>` to stderr and serves until Ctrl-C or SIGTERM. Drive it
with the `/_emulator/*` control endpoints (faults, requests, config, reset).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import OpenAIEmulator
from .state import DEFAULT_KEY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator.openai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8124, help="port (0 = any free port)")
    parser.add_argument("--gateway", action="store_true", help="behave as an OpenAI-compatible gateway")
    parser.add_argument("--prefix", default="/v1", help="where the API is mounted: '/v1' (default) or ''")
    parser.add_argument("--key", action="append", help=f"valid API key (repeatable; default {DEFAULT_KEY})")
    parser.add_argument("--models-route", choices=["images", "unfiltered", "missing"], help="GET /models behaviour")
    parser.add_argument("--error-style", choices=["openai", "code_msg", "string"], help="error envelope")
    parser.add_argument("--prompt-limit", type=int, help="one prompt limit for every model")
    parser.add_argument("--url-lifetime", type=float, default=3600.0, help="seconds a data[].url stays valid")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each image answer")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    keys = args.key or [DEFAULT_KEY]
    emu = OpenAIEmulator(
        args.gateway,
        args.prefix,
        api_key=keys[0],
        valid_keys=keys,
        models_route=args.models_route,
        error_style=args.error_style,
        prompt_limit=args.prompt_limit,
        url_lifetime_s=args.url_lifetime,
        latency_s=args.latency,
        host=args.host,
        port=args.port,
    )
    with emu:
        print(f"openai emulator listening on {emu.base_url}", file=sys.stderr, flush=True)
        while not stop.wait(0.1):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
