"""What every route shares: the request-id middleware, recording, Bearer auth, error replies in the
configured style, and a wait that notices a client hanging up.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BAD_KEY, NO_KEY, ApiError, error_body
from .state import EmulatorState, RecordedRequest

REQUEST_ID = "emulator.request_id"
POLL_S = 0.02


class RequestIdMiddleware:
    """Every answer carries `x-request-id` (and, in OpenAI mode, `openai-version` / `openai-processing-ms`).
    Pure ASGI, so it does not get between a hanging route and the client's disconnect."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(16)
        scope[REQUEST_ID] = request_id
        started = time.monotonic()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if not self.state.gateway:
                    elapsed = str(int((time.monotonic() - started) * 1000))
                    headers.append((b"openai-version", b"2020-10-01"))
                    headers.append((b"openai-processing-ms", elapsed.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def api_path(request: Request, state: EmulatorState) -> str:
    """The path without the configured prefix (`/v1/images/edits` → `/images/edits`)."""
    path = request.url.path
    return path[len(state.prefix) :] if state.prefix and path.startswith(state.prefix) else path


def record(request: Request) -> RecordedRequest:
    """Log the request before anything else, so tests see even the ones that fail."""
    state = state_of(request)
    return state.record(
        lambda i: RecordedRequest(
            id=i,
            request_id=str(request.scope.get(REQUEST_ID, "")),
            method=request.method,
            path=request.url.path,
            api_path=api_path(request, state),
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            time_received=time.time(),
        )
    )


def authenticate(state: EmulatorState, rec: RecordedRequest) -> None:
    """Raise a 401 `invalid_api_key` unless the Bearer token is a valid key (the key is never echoed)."""
    scheme, _, token = rec.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, NO_KEY, code="invalid_api_key")
    with state.cond:
        known = token in state.valid_keys
    if not known:
        raise ApiError(401, BAD_KEY, code="invalid_api_key")


def error_reply(state: EmulatorState, rec: RecordedRequest, err: ApiError) -> JSONResponse:
    with state.cond:
        style = state.error_style
    state.finish(rec, "error", err.status)
    return JSONResponse(error_body(err, style), status_code=err.status, headers=err.headers)


def json_reply(
    state: EmulatorState, rec: RecordedRequest, body: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    state.finish(rec, "ok", 200)
    return JSONResponse(body, headers=headers)


def raw_reply(state: EmulatorState, rec: RecordedRequest, content: bytes | str, media_type: str) -> Response:
    state.finish(rec, "ok", 200)
    return Response(content, media_type=media_type)


async def wait_or_cancel(request: Request, state: EmulatorState, rec: RecordedRequest, seconds: float) -> str:
    """Sleep in small steps, polling for a disconnect. Returns `done`, `cancelled` (recorded in
    `emu.cancelled`) or `closing` (the emulator is stopping)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds if math.isfinite(seconds) else math.inf
    while True:
        if await request.is_disconnected():
            state.finish(rec, "cancelled", None)
            return "cancelled"
        remaining = deadline - loop.time()
        if remaining <= 0:
            return "done"
        if state.closing:
            state.finish(rec, "error", 503)
            return "closing"
        await asyncio.sleep(min(POLL_S, remaining))
