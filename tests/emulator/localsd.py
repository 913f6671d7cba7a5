"""What the two local Stable Diffusion emulators (``a1111``, ``comfyui``) share: a lock-protected state
with a request log, and deterministic pictures of a requested size.

The test thread reads the state while the uvicorn thread records into it, so every access goes through
one ``threading.Condition``; nothing awaits while holding it.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    """One request as the emulator saw it (``json`` for JSON bodies, ``form`` for multipart text fields)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    time_received: float = field(default_factory=time.time)


class LocalState:
    """The request log and the lifecycle flags ``LoopbackEmulator`` expects (``cond``, ``requests``,
    ``cancelled``, ``closing``)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.requests: list[RecordedRequest] = []
        self.cancelled: list[RecordedRequest] = []
        self.closing = False

    def record(self, rec: RecordedRequest) -> RecordedRequest:
        with self.cond:
            self.requests.append(rec)
            self.cond.notify_all()
        return rec

    def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.05))

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()


def picture(width: int, height: int, seed_text: str, fmt: str = "png") -> bytes:
    """A real image of ``width``×``height``: a colour from ``seed_text``'s hash and a darker band, so two
    different requests never give the same bytes and the same request always does."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(seed_text.encode()).digest()
    im = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    ImageDraw.Draw(im).rectangle((0, height // 3, width - 1, 2 * height // 3), fill=(digest[3] // 2, 40, 90))
    buf = io.BytesIO()
    im.save(buf, {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}[fmt.lower()])
    return buf.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size
