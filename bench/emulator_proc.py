"""The loopback emulator in its own process, so its CPU work never shares a GIL with what is measured."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx2

from .common import ROOT, child_env

KEY = "sk-or-v1-test-0123456789abcdef"


class EmulatorProcess:
    def __init__(self, latency_s: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.emulator.openrouter", "--port", "0",
             "--latency", str(latency_s), "--key", KEY],
            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=child_env(), text=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if "listening on" not in line:
            raise RuntimeError(f"emulator did not start: {line}")
        self.base_url = line.strip().split()[-1]
        self.root = self.base_url.removesuffix("/api/v1")
        self.key = KEY

    def control(self, path: str, body: dict[str, Any]) -> None:
        httpx2.post(f"{self.root}/_emulator/{path}", json=body, timeout=10).raise_for_status()

    def set_fault(self, fault: dict[str, Any]) -> None:
        self.control("faults", {"set": fault})

    def requests(self) -> list[dict[str, Any]]:
        data: Any = httpx2.get(f"{self.root}/_emulator/requests", timeout=10).json()
        return data["requests"] if isinstance(data, dict) else data

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_ready(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.TransportError:
            time.sleep(0.05)
    raise RuntimeError(json.dumps({"not ready": url}))
