"""What the submit-then-poll emulators (BFL, fal) share: a lock-protected request log with the key
redacted, a fault queue, expiring result files on a clock that tests can move, and a `ForeignOrigin`
server that only records who knocked (a URL on it must never be fetched by the client).

The test thread mutates the state while the uvicorn thread reads and records, so every access goes
through one `threading.Condition`; nothing awaits while holding it.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .openai.pictures import render
from .openrouter.server import LoopbackServer


@dataclass
class Recorded:
    """One request as the emulator saw it (the key header replaced by `<redacted>`)."""

    method: str
    path: str
    query: str
    host: str
    headers: dict[str, str]
    json: Any
    status: int | None = None


@dataclass
class Fault:
    """`kind` plus options; taken by the next matching request (`times` of them, None = until cleared)."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)


class JobState:
    """The shared part of both emulators' state."""

    def __init__(self, key_header: str, url_lifetime_s: float) -> None:
        self.cond = threading.Condition()
        self.key_header = key_header
        self.url_lifetime_s = url_lifetime_s
        self.requests: list[Recorded] = []
        self.cancelled: list[Recorded] = []  # LoopbackEmulator's view; these APIs answer at once
        self.closing = False
        self.faults: deque[Fault] = deque()
        self.sticky: Fault | None = None
        self.files: dict[str, tuple[bytes, str, float]] = {}
        self.clock_offset_s = 0.0
        self._ids = itertools.count(1)

    def now(self) -> float:
        return time.time() + self.clock_offset_s

    def next_id(self) -> int:
        with self.cond:
            return next(self._ids)

    def reset(self) -> None:
        with self.cond:
            self.requests.clear()
            self.cancelled.clear()
            self.faults.clear()
            self.sticky = None
            self.files.clear()
            self.clock_offset_s = 0.0

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None) -> Any:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def record(self, method: str, path: str, query: str, headers: dict[str, str], body: Any) -> Recorded:
        shown = {k.lower(): ("<redacted>" if k.lower() == self.key_header else v) for k, v in headers.items()}
        rec = Recorded(method, path, query, shown.get("host", ""), shown, body)
        with self.cond:
            self.requests.append(rec)
            self.cond.notify_all()
        return rec

    def answered(self, rec: Recorded, status: int) -> None:
        with self.cond:
            rec.status = status
            self.cond.notify_all()

    # -- faults --
    def add_fault(self, fault: Fault, times: int | None) -> None:
        with self.cond:
            if times is None:
                self.sticky = fault
            else:
                self.faults.extend([fault] * times)

    def take_fault(self, kinds: tuple[str, ...]) -> Fault | None:
        """The next queued fault if it is one of `kinds` (else it stays for a later request)."""
        with self.cond:
            if self.faults and self.faults[0].kind in kinds:
                return self.faults.popleft()
            if self.sticky is not None and self.sticky.kind in kinds:
                return self.sticky
            return None

    # -- result files --
    def add_file(self, data: bytes, mime: str, *, lifetime_s: float | None = None) -> str:
        name = secrets.token_hex(8)
        life = self.url_lifetime_s if lifetime_s is None else lifetime_s
        with self.cond:
            self.files[name] = (data, mime, self.now() + life)
        return name

    def file(self, name: str) -> tuple[int, bytes, str]:
        with self.cond:
            found = self.files.get(name)
            if found is None:
                return 404, b"<Error><Code>BlobNotFound</Code></Error>", "application/xml"
            data, mime, expires = found
            if self.now() > expires:
                return 403, b"<Error><Code>AuthenticationFailed</Code>expired</Error>", "application/xml"
            return 200, data, mime


def picture(prompt: str, width: int, height: int, fmt: str = "jpeg", index: int = 0) -> bytes:
    """A real image of the requested size, the same bytes for the same request."""
    return render(prompt or "image", max(8, width), max(8, height), "jpeg" if fmt == "jpeg" else "png", index)


def image_size(ref: Any) -> tuple[int, int] | None:
    """The pixel size of an input image given as a data URI or bare base64 (None for a URL or junk)."""
    if not isinstance(ref, str):
        return None
    payload = ref.split(",", 1)[1] if ref.startswith("data:") else ref
    if payload.startswith(("http://", "https://")):
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(base64.b64decode(payload, validate=False))) as img:
            return img.width, img.height
    except (binascii.Error, ValueError, OSError):
        return None


class ForeignOrigin:
    """Another origin (its own port): answers anything with 200 JSON, and records every hit."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        self.hits: list[str] = []
        self._lock = threading.Lock()

        async def anything(request: Request) -> JSONResponse:
            with self._lock:
                self.hits.append(f"{request.method} {request.url.path}")
            return JSONResponse({"status": "Ready", "result": {"sample": "https://example.invalid/x.jpg"}})

        app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST", "PUT"])])
        self._server = LoopbackServer(app, "127.0.0.1", 0, "foreign-origin")
        self.url = f"http://127.0.0.1:{self._server.start()}"

    def stop(self) -> None:
        self._server.stop()


def foreign_origin() -> Iterator[ForeignOrigin]:
    """A fixture body: a foreign origin for one test."""
    server = ForeignOrigin()
    try:
        yield server
    finally:
        server.stop()
