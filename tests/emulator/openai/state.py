"""Shared, lock-protected state: the request log, the fault queue, issued image URLs, runtime knobs.

The test thread mutates this while the uvicorn thread reads and records, so every access goes through one
`threading.Condition`; nothing awaits while holding it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..openrouter.state import summarize
from .catalogue import ModelSpec
from .faults import Fault

DEFAULT_KEY = "sk-proj-emulator-0123456789abcdef"


@dataclass(frozen=True)
class UploadedPart:
    """One multipart file part as received: enough for a test to prove what was uploaded."""

    name: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    format: str | None
    width: int | None
    height: int | None
    mode: str | None
    transparent_pixels: int | None = None  # alpha 0 pixels; None when the part has no alpha channel

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RecordedRequest:
    """One request as the emulator saw it. `outcome` moves from `pending` to `ok`, `error` (see `status`)
    or `cancelled` (the client disconnected while the emulator was waiting: latency or `hang`).
    `headers` keep `authorization` for tests; `summary()` (the HTTP view) redacts it."""

    id: int
    request_id: str
    method: str
    path: str
    api_path: str
    query: str
    headers: dict[str, str]
    time_received: float
    json: Any = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    parts: list[UploadedPart] = field(default_factory=list)
    model: str | None = None
    prompt: str | None = None
    fault: Fault | None = None
    outcome: str = "pending"
    status: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "api_path": self.api_path,
            "query": self.query,
            "headers": {k: ("<redacted>" if k == "authorization" else v) for k, v in self.headers.items()},
            "json": summarize(self.json),
            "fields": self.fields,
            "parts": [p.to_dict() for p in self.parts],
            "model": self.model,
            "prompt": self.prompt,
            "fault": self.fault.to_dict() if self.fault else None,
            "outcome": self.outcome,
            "status": self.status,
            "time_received": self.time_received,
        }


@dataclass(frozen=True)
class StoredFile:
    """An image behind a `data[].url`, downloadable until `expires_at` (emulator clock)."""

    data: bytes
    media_type: str
    expires_at: float
    signature: str


class EmulatorState:
    """Everything the routes read or write."""

    def __init__(
        self,
        *,
        gateway: bool,
        prefix: str,
        valid_keys: set[str],
        models: Iterable[ModelSpec],
        models_route: str,
        error_style: str,
        prompt_limit: int | None,
        url_lifetime_s: float,
        latency_s: float,
    ) -> None:
        self.cond = threading.Condition()
        self.gateway = gateway
        self.prefix = prefix
        self.valid_keys = set(valid_keys)
        self.models: dict[str, ModelSpec] = {m.id: m for m in models}
        self.models_route = models_route
        self.edits_route = "present"  # "missing": a gateway without /images/edits (404, like any unknown path)
        self.error_style = error_style
        self.prompt_limit = prompt_limit
        self.url_lifetime_s = url_lifetime_s
        self.latency_s = latency_s
        self.clock_offset_s = 0.0
        self.requests: list[RecordedRequest] = []
        self.cancelled: list[RecordedRequest] = []
        self.faults: list[list[Any]] = []  # [Fault, remaining count or None for "until cleared"]
        self.files: dict[str, StoredFile] = {}
        self.closing = False
        self._next_id = 1

    def now(self) -> float:
        """Wall time plus `advance_clock()` shifts: what URL expiry is measured against."""
        with self.cond:
            return time.time() + self.clock_offset_s

    # -- request log --
    def record(self, factory: Callable[[int], RecordedRequest]) -> RecordedRequest:
        with self.cond:
            rec = factory(self._next_id)
            self._next_id += 1
            self.requests.append(rec)
            self.cond.notify_all()
            return rec

    def finish(self, rec: RecordedRequest, outcome: str, status: int | None) -> None:
        with self.cond:
            if rec.outcome != "pending":
                return
            rec.outcome, rec.status = outcome, status
            if outcome == "cancelled":
                self.cancelled.append(rec)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None) -> Any:
        """Block the calling (test) thread until `predicate()` is truthy; its value, or falsy on timeout."""
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    # -- faults --
    def add_fault(self, fault: Fault, times: int | None) -> None:
        with self.cond:
            self.faults.append([fault, times])

    def take_fault(self, api_path: str, method: str) -> Fault | None:
        """The first queued fault matching this request (FIFO among matches); counts it down."""
        with self.cond:
            for entry in self.faults:
                fault, remaining = entry
                if fault.matches(api_path, method):
                    if remaining is not None:
                        entry[1] = remaining - 1
                        if entry[1] <= 0:
                            self.faults.remove(entry)
                    return fault  # type: ignore[no-any-return]
            return None

    def clear_faults(self) -> None:
        with self.cond:
            self.faults.clear()

    def faults_view(self) -> list[dict[str, Any]]:
        with self.cond:
            return [{**f.to_dict(), "times": n} for f, n in self.faults]

    # -- files --
    def store_file(self, name: str, stored: StoredFile) -> None:
        with self.cond:
            self.files[name] = stored

    def get_file(self, name: str) -> StoredFile | None:
        with self.cond:
            return self.files.get(name)

    def reset(self) -> None:
        """Forget requests, cancellations, faults, issued URLs and clock shifts (keys, models, knobs stay)."""
        with self.cond:
            self.requests.clear()
            self.cancelled.clear()
            self.faults.clear()
            self.files.clear()
            self.clock_offset_s = 0.0


MODELS_ROUTES = frozenset({"images", "unfiltered", "missing"})
EDITS_ROUTES = frozenset({"present", "missing"})


def validate_knob(name: str, value: Any) -> None:
    """Raise ValueError for a knob value the routes could not use (shared by the constructor and control)."""
    from .errors import ERROR_STYLES

    if name == "models_route" and value not in MODELS_ROUTES:
        raise ValueError(f"models_route must be one of {sorted(MODELS_ROUTES)}")
    if name == "edits_route" and value not in EDITS_ROUTES:
        raise ValueError(f"edits_route must be one of {sorted(EDITS_ROUTES)}")
    if name == "error_style" and value not in ERROR_STYLES:
        raise ValueError(f"error_style must be one of {sorted(ERROR_STYLES)}")
    if name == "prompt_limit" and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("prompt_limit must be an integer or null")
    numeric = ("latency_s", "url_lifetime_s", "clock_offset_s")
    if name in numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{name} must be a number")
    if name in ("latency_s", "url_lifetime_s") and value < 0:
        raise ValueError(f"{name} must not be negative")
