"""Shared, lock-protected state: the request log, the fault queue, runtime knobs, billing.

The test thread mutates this (push faults, change latency) while the uvicorn thread reads and records,
so every access goes through one `threading.Condition`. Nothing here awaits while holding the lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .catalogue import DEFAULT_MODELS, ModelSpec
from .faults import Fault

DEFAULT_KEY = "sk-or-v1-test-0123456789abcdef"
_SUMMARY_LIMIT = 120


def summarize(value: Any) -> Any:
    """A JSON copy with long strings (base64, data URLs) replaced by a short marker."""
    if isinstance(value, dict):
        return {k: summarize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize(v) for v in value]
    if isinstance(value, str) and len(value) > _SUMMARY_LIMIT:
        head = value.split(",", 1)[0] if value.startswith("data:") else value[:40]
        return f"<{head}… {len(value)} chars>"
    return value


@dataclass
class RecordedRequest:
    """One request as the emulator saw it. `outcome` is updated by the server thread as it answers:
    `pending`, `ok` (image(s) delivered), `no_image` (billed, no image), `error` (see `status`),
    `reset`, or `cancelled` (client went away while the emulator was waiting)."""

    id: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any
    time_received: float
    outcome: str = "pending"
    status: int | None = None
    input_images: list[bytes] = field(default_factory=list)
    input_image_urls: list[str] = field(default_factory=list)
    prompt: str | None = None
    model: str | None = None
    stream: bool = False
    generation_id: str | None = None
    fault: Fault | None = None

    @property
    def input_hashes(self) -> list[str]:
        """sha256 of each data-URL input image, in the order they arrived (tests check order and content)."""
        import hashlib

        return [hashlib.sha256(b).hexdigest() for b in self.input_images]

    @property
    def referer(self) -> str | None:
        return self.headers.get("http-referer")

    @property
    def title(self) -> str | None:
        return self.headers.get("x-openrouter-title") or self.headers.get("x-title")

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for `GET /_emulator/requests`: base64 omitted, input images as sizes."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": {k: ("<redacted>" if k == "authorization" else v) for k, v in self.headers.items()},
            "json": summarize(self.json),
            "time_received": self.time_received,
            "outcome": self.outcome,
            "status": self.status,
            "input_image_sizes": [len(b) for b in self.input_images],
            "input_image_sha256": self.input_hashes,
            "input_image_urls": self.input_image_urls,
            "prompt": self.prompt,
            "model": self.model,
            "stream": self.stream,
            "generation_id": self.generation_id,
            "fault": self.fault.to_dict() if self.fault else None,
        }


@dataclass
class Generation:
    """A billed generation, looked up by `GET /generation?id=` once `visible_at` has passed."""

    data: dict[str, Any]
    visible_at: float


class EmulatorState:
    """Everything the routes read or write. Attributes are read under `self.cond` by the helpers."""

    def __init__(
        self,
        *,
        latency_s: float,
        valid_keys: set[str],
        management_keys: set[str],
        key_limit_remaining: float | None,
        generation_lookup_delay_s: float,
    ) -> None:
        self.cond = threading.Condition()
        self.requests: list[RecordedRequest] = []
        self.cancelled: list[RecordedRequest] = []
        self.fault_queue: deque[Fault] = deque()
        self.sticky_fault: Fault | None = None
        self.latency_s = latency_s
        self.valid_keys = set(valid_keys)
        self.management_keys = set(management_keys)
        self.generation_lookup_delay_s = generation_lookup_delay_s
        self.usage_usd = 0.0
        self.key_limit: float | None = None
        self.key_limit_remaining = key_limit_remaining
        self.models: dict[str, ModelSpec] = {m.id: m for m in DEFAULT_MODELS}
        self.generations: dict[str, Generation] = {}
        self.scale_divisor = 16
        self.max_body_bytes: int | None = None
        self.keepalive_s = 1.0
        self.closing = False
        self._next_id = 1

    # -- key budget: the limit stays fixed, so "remaining" falls as generations are billed --
    @property
    def key_limit_remaining(self) -> float | None:
        with self.cond:
            return None if self.key_limit is None else round(self.key_limit - self.usage_usd, 10)

    @key_limit_remaining.setter
    def key_limit_remaining(self, value: float | None) -> None:
        with self.cond:
            self.key_limit = None if value is None else self.usage_usd + value

    def bill(self, cost: float) -> None:
        with self.cond:
            self.usage_usd += cost

    # -- request log --
    def record(self, req_factory: Callable[[int], RecordedRequest]) -> RecordedRequest:
        with self.cond:
            rec = req_factory(self._next_id)
            self._next_id += 1
            self.requests.append(rec)
            self.cond.notify_all()
            return rec

    def finish(self, rec: RecordedRequest, outcome: str, status: int | None) -> None:
        with self.cond:
            rec.outcome = outcome
            rec.status = status
            if outcome == "cancelled":
                self.cancelled.append(rec)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None) -> Any:
        """Block the calling (test) thread until `predicate()` is truthy; return its value or None."""
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    # -- faults --
    def push_fault(self, fault: Fault, times: int) -> None:
        with self.cond:
            self.fault_queue.extend([fault] * times)

    def set_fault(self, fault: Fault | None) -> None:
        with self.cond:
            self.sticky_fault = fault

    def clear_faults(self) -> None:
        with self.cond:
            self.fault_queue.clear()
            self.sticky_fault = None

    def take_fault(self) -> Fault | None:
        """Queued faults first (FIFO), then the sticky one."""
        with self.cond:
            if self.fault_queue:
                return self.fault_queue.popleft()
            return self.sticky_fault

    # -- generations --
    def add_generation(self, gen_id: str, data: dict[str, Any]) -> None:
        with self.cond:
            visible = time.monotonic() + self.generation_lookup_delay_s
            self.generations[gen_id] = Generation(data=data, visible_at=visible)

    def lookup_generation(self, gen_id: str) -> dict[str, Any] | None:
        with self.cond:
            gen = self.generations.get(gen_id)
            if gen is None or time.monotonic() < gen.visible_at:
                return None
            return gen.data

    def reset(self) -> None:
        """Forget requests, cancellations, faults and generations (for a shared emulator)."""
        with self.cond:
            self.requests.clear()
            self.cancelled.clear()
            self.fault_queue.clear()
            self.sticky_fault = None
            self.generations.clear()
