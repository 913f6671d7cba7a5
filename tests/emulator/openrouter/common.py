"""Plumbing shared by every route: recording, auth, JSON replies, waiting that notices a cancelled
client, and dropping a connection on purpose.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import envelope, user_id_for
from .images import decode_data_url
from .state import EmulatorState, RecordedRequest

ABORT_EXTENSION = "emulator.abort"
"""Scope extension (set by the server's protocol) that aborts the TCP connection with no response."""

POLL_S = 0.02
SSE_COMMENT = ": OPENROUTER PROCESSING\n\n"
SSE_DONE = "data: [DONE]\n\n"


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


async def record(request: Request) -> tuple[RecordedRequest, Any, str | None]:
    """Log the request before anything else, so tests can `wait_for_request` even for ones that fail.
    Returns (record, parsed JSON or None, a body problem: `too_large`, `bad_json` or None)."""
    raw = await request.body()
    parsed: Any = None
    problem: str | None = None
    limit = state_of(request).max_body_bytes
    if limit is not None and len(raw) > limit:
        problem = "too_large"
    elif raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            problem = "bad_json"
    headers = {k.lower(): v for k, v in request.headers.items()}
    rec = state_of(request).record(
        lambda i: RecordedRequest(
            id=i,
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=headers,
            json=parsed,
            time_received=time.time(),
        )
    )
    return rec, parsed, problem


def body_error(state: EmulatorState, rec: RecordedRequest, problem: str | None, uid: str) -> JSONResponse | None:
    """413 for an oversized body (`max_body_bytes`), 400 for one that is not JSON."""
    if problem == "too_large":
        return reply(state, rec, 413, envelope("Request payload too large", 413, user_id=uid))
    if problem == "bad_json":
        return reply(state, rec, 400, envelope("Invalid JSON body", 400, user_id=uid))
    return None


def reply(
    state: EmulatorState,
    rec: RecordedRequest,
    status: int,
    body: dict[str, Any],
    *,
    outcome: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Send JSON and close out the record (`error` for non-2xx unless told otherwise)."""
    state.finish(rec, outcome or ("ok" if status < 400 else "error"), status)
    return JSONResponse(body, status_code=status, headers=headers)


def authenticate(state: EmulatorState, rec: RecordedRequest) -> tuple[str | None, JSONResponse | None]:
    """(key, None) for a known key, else (None, 401 response) with OpenRouter's two messages."""
    scheme, _, token = rec.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None, reply(state, rec, 401, envelope("No auth credentials found", 401))
    with state.cond:
        known = token in state.valid_keys
    if not known:
        return None, reply(state, rec, 401, envelope("User not found.", 401))
    return token, None


def user_of(key: str) -> str:
    return user_id_for(key)


async def wait_or_cancel(request: Request, state: EmulatorState, rec: RecordedRequest, seconds: float) -> str:
    """Sleep in small steps, polling for a client disconnect. Returns `done`, `cancelled` (recorded in
    `emu.cancelled`) or `closing` (the emulator is shutting down)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if await request.is_disconnected():
            state.finish(rec, "cancelled", None)
            return "cancelled"
        remaining = deadline - loop.time()
        if remaining <= 0:
            return "done"
        if state.closing:
            return "closing"
        await asyncio.sleep(min(POLL_S, remaining))


def abort_connection(request: Request) -> None:
    abort = request.scope.get("extensions", {}).get(ABORT_EXTENSION)
    if abort is None:
        raise RuntimeError("reset fault needs the emulator's abortable HTTP protocol")
    abort()


async def reset(request: Request, state: EmulatorState, rec: RecordedRequest) -> Response:
    """Drop the TCP connection with no response bytes; the client sees a transport error, not a 500."""
    state.finish(rec, "reset", None)
    abort_connection(request)
    for _ in range(50):
        if await request.is_disconnected():
            break
        await asyncio.sleep(0.01)
    return Response(status_code=500)  # never written: uvicorn drops sends on a lost connection


def decode_image_parts(parts: list[Any], rec: RecordedRequest) -> str | None:
    """Collect `{"type":"image_url","image_url":{"url":…}}` parts into the record.
    Returns an error message for a malformed data URL, else None. http(s) URLs are only recorded."""
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        ref = part.get("image_url")
        url = ref.get("url") if isinstance(ref, dict) else ref
        if not isinstance(url, str) or not url:
            return "image_url.url is required"
        if url.startswith("data:"):
            try:
                rec.input_images.append(decode_data_url(url))
            except ValueError as exc:
                return f"Invalid image: {exc}"
        elif url.startswith(("http://", "https://")):
            rec.input_image_urls.append(url)
        else:
            return "Invalid image: expected a data URL or an http(s) URL"
    return None


def truncated(body: dict[str, Any], headers: dict[str, str]) -> Response:
    """A billed answer cut off half-way: the declared Content-Length is the whole body, half is sent."""
    data = json.dumps(body).encode()
    return Response(
        data[: len(data) // 2],
        headers={**headers, "content-length": str(len(data)), "content-type": "application/json"},
    )
