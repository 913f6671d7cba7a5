"""The `/_emulator/*` control surface, for manual runs and subprocess tests that cannot reach the Python
object. It lives at the root (outside the API prefix) and is never recorded or authenticated."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .faults import Fault
from .plumbing import state_of
from .state import validate_knob

CONFIG_FIELDS = (
    "latency_s", "url_lifetime_s", "prompt_limit", "models_route", "edits_route", "error_style", "clock_offset_s",
)  # fmt: skip


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def faults(request: Request) -> JSONResponse:
    """`{"fault": {...}, "times": N | null}` queues (null = until cleared); `{"clear": true}` clears."""
    state = state_of(request)
    body = await _json(request)
    if not isinstance(body, dict):
        return _bad("expected a JSON object")
    if body.get("clear"):
        state.clear_faults()
    elif "fault" in body:
        times = body.get("times", 1)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            return _bad("times must be a positive integer or null")
        try:
            state.add_fault(Fault.from_dict(body["fault"]), times)
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
    else:
        return _bad("expected 'fault' or 'clear'")
    return JSONResponse({"ok": True, "faults": state.faults_view()})


async def requests_log(request: Request) -> JSONResponse:
    state = state_of(request)
    with state.cond:
        summaries = [r.summary() for r in state.requests]
        cancelled = [r.id for r in state.cancelled]
    return JSONResponse({"requests": summaries, "cancelled": cancelled})


async def config(request: Request) -> JSONResponse:
    """Set runtime knobs by name (see `CONFIG_FIELDS`); answers with their current values."""
    state = state_of(request)
    body = await _json(request)
    if not isinstance(body, dict) or set(body) - set(CONFIG_FIELDS):
        return _bad(f"expected an object with keys from {list(CONFIG_FIELDS)}")
    try:
        for name, value in body.items():
            validate_knob(name, value)
    except ValueError as exc:
        return _bad(str(exc))
    with state.cond:
        for name, value in body.items():
            setattr(state, name, value)
        current = {name: getattr(state, name) for name in CONFIG_FIELDS}
    return JSONResponse({"ok": True, **current})


async def reset(request: Request) -> JSONResponse:
    state_of(request).reset()
    return JSONResponse({"ok": True})
