"""`Emulator`: runs the app under uvicorn on 127.0.0.1 in a background thread, and is the Python
handle tests use to inspect requests and inject faults.

Two uvicorn tweaks: a protocol subclass exposes `transport.abort()` to the app (so the `reset` fault
can drop a connection without any response), and a server subclass waits on an event instead of
uvicorn's 0.1 s polling loop, so start and stop each take milliseconds.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import build_app
from .catalogue import ModelSpec
from .common import ABORT_EXTENSION
from .faults import Fault
from .state import DEFAULT_KEY, EmulatorState, RecordedRequest


class _AbortableH11Protocol(H11Protocol):
    """h11 protocol that puts `emulator.abort` (drop this TCP connection) into each request scope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = self._abort
            await inner(scope, receive, send)

        self.app = app

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class _Server(uvicorn.Server):
    """uvicorn server whose main loop wakes on an event, and whose shutdown skips the fixed sleeps."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()

    def request_stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        tasks = list(self.server_state.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
        for server in self.servers:
            await asyncio.wait_for(server.wait_closed(), timeout=2.0)


class LoopbackServer:
    """Runs an ASGI app under uvicorn on `host:port` (0 = any free port) in a daemon thread.
    Shared by the emulators: `start()` returns the bound port, `stop()` waits for the thread."""

    def __init__(self, app: Any, host: str, port: int, name: str) -> None:
        self._app, self._host, self._port, self._name = app, host, port, name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self) -> int:
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is TCP,
        # and without it keep-alive requests pay a 40 ms Nagle/delayed-ACK stall.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._sock, self._port = sock, sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http=_AbortableH11Protocol,
            loop="asyncio",
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=5,
        )
        ready = threading.Event()
        self._server = _Server(config, ready)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True
        )
        self._thread.start()
        if not ready.wait(10.0):
            self.stop()
            raise RuntimeError(f"{self._name} did not start within 10 s")
        return self._port

    def stop(self) -> None:
        if self._server is not None:
            self._server.request_stop()
        if self._thread is not None:
            self._thread.join(10.0)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None


def knob(name: str, doc: str) -> Any:
    """A property that reads/writes `self.state.<name>` under `self.state.cond` (runtime-settable knobs)."""

    def get(self: Any) -> Any:
        with self.state.cond:
            return getattr(self.state, name)

    def set_(self: Any, value: Any) -> None:
        with self.state.cond:
            setattr(self.state, name, value)

    return property(get, set_, doc=doc)


class LoopbackEmulator:
    """What every emulator handle shares: start/stop (also as a context manager), its addresses, and the
    request log views. Subclasses set `self.state` (with `cond`, `requests`, `cancelled`, `closing` and
    `wait_for`) before calling `super().__init__`, and build their app in `_build_app()`."""

    state: Any

    def __init__(self, host: str, port: int, thread_name: str) -> None:
        self._host, self._port, self._thread_name = host, port, thread_name
        self._loopback: LoopbackServer | None = None

    def _build_app(self) -> Any:
        raise NotImplementedError

    # -- lifecycle --
    def start(self) -> Self:
        if self._loopback is not None:
            raise RuntimeError("emulator already started")
        self._loopback = LoopbackServer(self._build_app(), self._host, self._port, self._thread_name)
        self._port = self._loopback.start()
        return self

    def stop(self) -> None:
        with self.state.cond:
            self.state.closing = True
            self.state.cond.notify_all()
        if self._loopback is not None:
            self._loopback.stop()
        self._loopback = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses --
    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    # -- inspection --
    @property
    def requests(self) -> list[Any]:
        with self.state.cond:
            return list(self.state.requests)

    @property
    def cancelled(self) -> list[Any]:
        """Requests whose client disconnected while the emulator was waiting (latency, hang, stream)."""
        with self.state.cond:
            return list(self.state.cancelled)

    def wait_for_request(self, path_suffix: str, timeout: float = 5.0, *, count: int = 1) -> Any:
        """Block until `count` requests whose path ends with `path_suffix` arrived; return the last one.
        Raises TimeoutError."""

        def found() -> Any:
            hits = [r for r in self.state.requests if r.path.endswith(path_suffix)]
            return hits[count - 1] if len(hits) >= count else None

        rec = self.state.wait_for(found, timeout)
        if rec is None:
            raise TimeoutError(f"no request to *{path_suffix} (x{count}) within {timeout} s")
        return rec

    def wait_for_cancelled(self, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """Block until at least `count` requests were cancelled by their client. Raises TimeoutError."""
        ok = self.state.wait_for(lambda: len(self.state.cancelled) >= count, timeout)
        if not ok:
            raise TimeoutError(f"fewer than {count} cancelled request(s) within {timeout} s")
        return self.cancelled


class Emulator(LoopbackEmulator):
    """A loopback OpenRouter. Use as a context manager, or call `start()` / `stop()`.

    `valid_keys` defaults to `{api_key}`; when `valid_keys` is given without `api_key`, `api_key` is
    the first of them (sorted). `key_limit_remaining=None` means an unlimited key (null limits).
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        valid_keys: Iterable[str] | None = None,
        *,
        api_key: str | None = None,
        management_keys: Iterable[str] = (),
        key_limit_remaining: float | None = None,
        generation_lookup_delay_s: float = 0.5,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        keys = set(valid_keys) if valid_keys is not None else set()
        self.api_key: str = api_key or (sorted(keys)[0] if keys else DEFAULT_KEY)
        keys.add(self.api_key)
        self.state = EmulatorState(
            latency_s=latency_s,
            valid_keys=keys,
            management_keys=set(management_keys),
            key_limit_remaining=key_limit_remaining,
            generation_lookup_delay_s=generation_lookup_delay_s,
        )
        super().__init__(host, port, "openrouter-emulator")

    def _build_app(self) -> Any:
        return build_app(self.state)

    # -- addresses --
    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    # -- faults and knobs --
    def push_fault(self, fault: Fault, times: int = 1) -> None:
        """The next `times` generation requests get `fault` (FIFO, ahead of any `set_fault`)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self.state.push_fault(fault, times)

    def set_fault(self, fault: Fault) -> None:
        """Every generation request gets `fault` until `clear_faults()`."""
        self.state.set_fault(fault)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def add_model(self, spec: ModelSpec) -> None:
        with self.state.cond:
            self.state.models[spec.id] = spec

    def remove_model(self, model_id: str) -> None:
        with self.state.cond:
            self.state.models.pop(model_id, None)

    def reset(self) -> None:
        """Forget requests, cancellations, faults and generations (keys, models and knobs stay)."""
        self.state.reset()

    latency_s = knob("latency_s", "Delay before each generation answer (polls for client disconnects).")
    key_limit_remaining = knob("key_limit_remaining", "USD left on the key; None = unlimited (null limits).")
    generation_lookup_delay_s = knob("generation_lookup_delay_s", "How long `/generation?id=` stays 404.")
    management_keys = knob("management_keys", "Keys allowed on `/credits`.")
    valid_keys = knob("valid_keys", "Keys that authenticate.")
    scale_divisor = knob("scale_divisor", "Real pixel sizes are divided by this (16) to keep images tiny.")
    max_body_bytes = knob("max_body_bytes", "Bodies above this get 413 (None = no limit).")
    keepalive_s = knob("keepalive_s", "Interval of `: OPENROUTER PROCESSING` comments while streaming.")

    @property
    def usage_usd(self) -> float:
        """Total billed so far (what `/key` reports as `usage`)."""
        with self.state.cond:
            return self.state.usage_usd

    # -- inspection --
    def generation_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(("/images", "/chat/completions"))]

    def generation_count(self, prompt: str | None = None) -> int:
        """Generations that delivered at least one image (optionally only those with this prompt)."""
        return sum(
            1
            for r in self.requests
            if r.outcome == "ok"
            and (prompt is None or r.prompt == prompt)
            and r.path.endswith(("/images", "/chat/completions"))
        )

    def wait_for_outcome(self, rec: RecordedRequest, timeout: float = 5.0) -> str:
        """Block until `rec` is no longer `pending`; return its outcome. Raises TimeoutError."""
        ok = self.state.wait_for(lambda: rec.outcome != "pending", timeout if math.isfinite(timeout) else None)
        if not ok:
            raise TimeoutError(f"request {rec.id} still pending after {timeout} s")
        return rec.outcome
