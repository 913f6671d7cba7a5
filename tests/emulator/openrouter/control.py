"""The `/_emulator/*` control surface, for subprocess tests and manual runs that cannot reach the
Python `Emulator` object. It lives outside `/api/v1` and is never recorded or authenticated."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .common import state_of
from .faults import Fault


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _faults_view(request: Request) -> dict[str, Any]:
    state = state_of(request)
    with state.cond:
        return {
            "ok": True,
            "queued": [f.to_dict() for f in state.fault_queue],
            "sticky": state.sticky_fault.to_dict() if state.sticky_fault else None,
        }


async def faults(request: Request) -> JSONResponse:
    """`{"fault": {...}, "times": N}` queues, `{"set": {...}}` makes sticky, `{"clear": true}` clears."""
    state = state_of(request)
    body = await _json(request)
    if not isinstance(body, dict):
        return _bad("expected a JSON object")
    try:
        if body.get("clear"):
            state.clear_faults()
        elif "set" in body:
            state.set_fault(Fault.from_dict(body["set"]))
        elif "fault" in body:
            times = body.get("times", 1)
            if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                return _bad("times must be a positive integer")
            state.push_fault(Fault.from_dict(body["fault"]), times)
        else:
            return _bad("expected 'fault', 'set' or 'clear'")
    except (TypeError, ValueError) as exc:
        return _bad(str(exc))
    return JSONResponse(_faults_view(request))


async def requests_log(request: Request) -> JSONResponse:
    state = state_of(request)
    with state.cond:
        summaries = [r.summary() for r in state.requests]
        cancelled = [r.id for r in state.cancelled]
        count = sum(1 for r in state.requests if r.outcome == "ok")
    return JSONResponse({"requests": summaries, "cancelled": cancelled, "generation_count": count})


async def latency(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await _json(request)
    value = body.get("latency_s") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return _bad("latency_s must be a non-negative number")
    with state.cond:
        state.latency_s = float(value)
    return JSONResponse({"ok": True, "latency_s": float(value)})


_CONFIG_FIELDS = (
    "latency_s",
    "generation_lookup_delay_s",
    "key_limit_remaining",
    "scale_divisor",
    "max_body_bytes",
)


async def config(request: Request) -> JSONResponse:
    """Set runtime knobs by name (`latency_s`, `generation_lookup_delay_s`, `key_limit_remaining`, …)."""
    state = state_of(request)
    body = await _json(request)
    if not isinstance(body, dict) or set(body) - set(_CONFIG_FIELDS):
        return _bad(f"expected an object with keys from {list(_CONFIG_FIELDS)}")
    with state.cond:
        for name, value in body.items():
            setattr(state, name, value)
        current = {name: getattr(state, name) for name in _CONFIG_FIELDS}
    return JSONResponse({"ok": True, **current})


async def reset(request: Request) -> JSONResponse:
    state_of(request).reset()
    return JSONResponse({"ok": True})
