"""Serving Streamable HTTP and SSE with uvicorn, configured for a server that faces a network.

The SDK's ``run_*_async`` use uvicorn's defaults, which do not suit this server:

- **Logs.** uvicorn's default logging config writes the access log to *stdout* with each request's
  query string verbatim (``?token=…``). Here uvicorn configures no logging of its own: its records
  go to the process's stderr handlers, through :class:`RedactingFilter` (no query strings, no
  bearer tokens, no configured secrets — tracebacks included).
- **Slow or idle clients.** uvicorn bounds header *size* (h11's 16 KiB) but not the time a client
  may take to send them, and its keep-alive timer only starts after a first response: a connection
  that never sends a request line stays open forever (200 of them were kept). :class:`HeaderTimeoutH11`
  closes a connection whose request head is not complete ``header_timeout_s`` after it opened (or
  after its previous response) — a deadline that trickled bytes do not extend. ``limit_concurrency``
  caps connections (503 beyond it) and ``timeout_keep_alive`` closes idle keep-alive connections.
- **Signals.** uvicorn installs its own SIGTERM/SIGINT handlers and re-raises the signal after
  shutting down; the old runner also cancelled the task group on the same signal, racing uvicorn's
  lifespan shutdown (a ``CancelledError`` traceback in half the runs). Here the only handler is
  ours, and it asks uvicorn for its graceful shutdown (``handle_exit``, which also drains SSE
  streams); a second SIGINT forces it. Open streams get ``GRACEFUL_S`` to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Generator
from typing import Any

import anyio
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from imagegen_mcp.errors import redact

HEADER_TIMEOUT_S = 10.0  # a request line and headers must arrive within this long
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this long
MAX_CONNECTIONS = 512  # concurrent connections (SSE and Streamable HTTP streams included); 503 beyond
GRACEFUL_S = 3  # on shutdown, open streams get this long before their tasks are cancelled
HARD_EXIT_S = 15.0  # after a signal the process exits by this time whatever still runs

_QUERY = re.compile(r"\?[^\s\"']*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")
_TOKEN_PARAM = re.compile(r"(?i)\b((?:access_)?token|key|api_key|secret|password)=[^\s&\"']+")


class RedactingFilter(logging.Filter):
    """Rewrites each record going to a handler: no query strings in access lines, no secrets anywhere."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.name == "uvicorn.access":
            text = _QUERY.sub("?…", text)  # a query string is the client's data; the path is enough
        clean = self.clean(text)
        if clean != text or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True

    def clean(self, text: str) -> str:
        text = _BEARER.sub(r"\1…", text)
        text = _TOKEN_PARAM.sub(lambda m: f"{m.group(1)}=…", text)
        return redact(text, self.secrets)


def install_log_redaction(secrets: tuple[str, ...]) -> None:
    """Every record that reaches a root handler (stderr) passes :class:`RedactingFilter`."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(secrets))


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for each request head (see the module docstring)."""

    header_timeout_s = HEADER_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request head is complete; the app owns the connection now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def one_response(app: Any) -> Any:
    """ASGI wrapper: once a response is complete, later sends on that request are dropped.

    The SDK's SSE endpoint returns an empty ``Response()`` after its event stream ends; when the
    stream ends because the server is shutting down (sse-starlette drains it) the client is still
    connected, and uvicorn raises "Unexpected ASGI message … after response already completed".
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        done = False

        async def guarded(message: Any) -> None:
            nonlocal done
            if done:
                return
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done = True
            await send(message)

        await app(scope, receive, guarded)

    return wrapped


class OwnSignalsServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the caller (no handlers, no re-raise)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def protocol(header_timeout_s: float) -> type[HeaderTimeoutH11]:
    return type("HeaderTimeoutH11", (HeaderTimeoutH11,), {"header_timeout_s": header_timeout_s})


async def run_http(
    app: Any, *, host: str, port: int, header_timeout_s: float = HEADER_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
) -> None:  # fmt: skip
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully and return."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # uvicorn's default sends the access log to stdout
        http=protocol(header_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=max_connections,
        timeout_graceful_shutdown=GRACEFUL_S,
        lifespan="on",
        server_header=False,
    )
    server = OwnSignalsServer(config)
    async with anyio.create_task_group() as tg:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    if not server.should_exit:
                        watchdog = threading.Timer(HARD_EXIT_S, os._exit, args=(0,))
                        watchdog.daemon = True
                        watchdog.start()
                    server.handle_exit(signum, None)  # graceful; SSE streams drain; a 2nd SIGINT forces

        tg.start_soon(stop_on_signal)
        await server.serve()
        tg.cancel_scope.cancel()
