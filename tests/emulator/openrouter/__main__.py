"""Run the emulator by hand: `python -m tests.emulator --port 8123 [--latency 0.5] [--key KEY]`.

Prints one line (`emulator listening on http://127.0.0.1:PORT/api/v1`) to stderr and serves until
Ctrl-C or SIGTERM. Drive it with the `/_emulator/*` control endpoints.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import Emulator
from .state import DEFAULT_KEY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8123, help="port (0 = any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each generation answer")
    parser.add_argument("--key", action="append", help=f"valid API key (repeatable; default {DEFAULT_KEY})")
    parser.add_argument("--management-key", action="append", default=[], help="key allowed on /credits")
    parser.add_argument("--lookup-delay", type=float, default=0.5, help="seconds /generation stays 404")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    keys = args.key or [DEFAULT_KEY]
    emu = Emulator(
        latency_s=args.latency,
        valid_keys=keys,
        api_key=keys[0],
        management_keys=args.management_key,
        generation_lookup_delay_s=args.lookup_delay,
        host=args.host,
        port=args.port,
    )
    with emu:
        print(f"emulator listening on {emu.base_url}", file=sys.stderr, flush=True)
        while not stop.wait(0.1):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
