"""The API routes: `/images/{generations,edits,variations}`, `/models[/{id}]`, the image URLs under
`/files/`, and the catch-all 404. One flow for the three image endpoints: record, authenticate, parse,
validate, take a fault, wait (latency or hang), answer.
"""

from __future__ import annotations

import email.utils
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import errors, params, uploads
from .answers import images_for, success_body
from .catalogue import CHAT_MODELS
from .errors import ApiError
from .plumbing import (
    authenticate,
    error_reply,
    json_reply,
    raw_reply,
    record,
    state_of,
    wait_or_cancel,
)
from .state import EmulatorState, RecordedRequest

_SPOILING = frozenset({"hang", "truncated", "html", "expired_url", "checkerboard"})
_ERROR_KINDS = frozenset({"rate_limit", "insufficient_quota", "no_credits", "server_error", "model_not_found"})
_BLOB_NOT_FOUND = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code>'
    "<Message>The specified blob does not exist.</Message></Error>"
)
_EXPIRED = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to '
    "authenticate the request. Make sure the value of Authorization header is formed correctly including the "
    "signature.</Message><AuthenticationErrorDetail>Signed expiry time [{expiry}] must be after signed start "
    "time [{now}]</AuthenticationErrorDetail></Error>"
)


async def _parse_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise errors.invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly.)",
            None,
            None,
        ) from exc
    if not isinstance(body, dict):
        raise errors.invalid("The request body must be a JSON object.", None, None)
    return body


async def _job(request: Request, endpoint: str, state: EmulatorState, rec: RecordedRequest) -> tuple[params.Job, str]:
    """(validated job, seed for the output bytes). Multipart parts are recorded before any check."""
    if endpoint == "generations":
        body = await _parse_json(request)
        rec.json = body
        rec.model, rec.prompt = body.get("model"), body.get("prompt")
        return params.check(body, endpoint, state), ""
    form = await uploads.read_form(request)
    rec.fields, rec.parts = form.fields, [u.part for u in form.files]
    values = form.params()
    rec.model, rec.prompt = values.get("model"), values.get("prompt")
    first = (form.named("image") or form.named("image[]") or [None])[0]
    auto = (1024, 1024)
    if first is not None and first.info.width and first.info.height:
        ratio = first.info.width / first.info.height
        auto = (1536, 1024) if ratio > 1.2 else (1024, 1536) if ratio < 1 / 1.2 else (1024, 1024)
    job = params.check(values, endpoint, state, auto_size=auto)
    if endpoint == "variations":
        inputs = [uploads.variation_image(form)]
    else:
        inputs = uploads.edit_images(form, job.spec.family)
        mask = uploads.check_mask(form, inputs[0])
        if mask is not None:
            inputs = [*inputs, mask]
    return job, ",".join(u.part.sha256 for u in inputs)


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _image_endpoint(request: Request, endpoint: str) -> Response:
    state = state_of(request)
    rec = record(request)
    try:
        authenticate(state, rec)
        job, seed = await _job(request, endpoint, state, rec)
    except ApiError as err:
        return error_reply(state, rec, err)
    fault = state.take_fault(rec.api_path, rec.method)
    rec.fault = fault
    with state.cond:
        latency = state.latency_s
    if fault is not None and fault.kind == "hang":
        latency = math.inf
    if latency > 0 and await wait_or_cancel(request, state, rec, latency) != "done":
        return Response(status_code=499)  # never read: the client is gone or the emulator is stopping
    if fault is not None and fault.kind not in _SPOILING:
        return error_reply(state, rec, errors.fault_error(fault, job.spec))
    n_inputs = len([p for p in rec.parts if p.name != "mask"])
    images = images_for(job, seed, checkerboard=fault is not None and fault.kind == "checkerboard")
    expired = fault is not None and fault.kind == "expired_url"
    body = success_body(job, images, state, _origin(request), n_inputs=n_inputs, expired_urls=expired)
    if fault is not None and fault.kind == "truncated":
        text = json.dumps(body)
        return raw_reply(state, rec, text[: len(text) // 2], "application/json")
    if fault is not None and fault.kind == "html":
        return raw_reply(state, rec, errors.HTML_PAGE, "text/html; charset=utf-8")
    with state.cond:
        gateway = state.gateway
    headers = {} if gateway else errors.rate_limit_headers(1.0, remaining=49)
    return json_reply(state, rec, body, headers)


async def generations(request: Request) -> Response:
    return await _image_endpoint(request, "generations")


async def edits(request: Request) -> Response:
    state = state_of(request)
    with state.cond:
        missing = state.edits_route == "missing"
    if missing:
        return _not_found(state, record(request))
    return await _image_endpoint(request, "edits")


async def variations(request: Request) -> Response:
    return await _image_endpoint(request, "variations")


async def models(request: Request) -> Response:
    """`GET /models`: the list envelope; an unfiltered gateway adds chat models; `missing` → 404."""
    state = state_of(request)
    rec = record(request)
    with state.cond:
        route, catalogue = state.models_route, list(state.models.values())
    if route == "missing":
        return _not_found(state, rec)
    try:
        authenticate(state, rec)
        fault = rec.fault = state.take_fault(rec.api_path, rec.method)
        if fault is not None and fault.kind in _ERROR_KINDS:
            raise errors.fault_error(fault, None)
    except ApiError as err:
        return error_reply(state, rec, err)
    listed = [m for m in catalogue if route == "unfiltered" or not m.chat]
    if route == "unfiltered":
        listed += [m for m in CHAT_MODELS if m.id not in state.models]
    return json_reply(state, rec, {"object": "list", "data": [m.listing() for m in listed]})


async def model(request: Request) -> Response:
    """`GET /models/{id}`: one model, or 404 `model_not_found`."""
    state = state_of(request)
    rec = record(request)
    with state.cond:
        route = state.models_route
        spec = state.models.get(request.path_params["model_id"])
    if route == "missing":
        return _not_found(state, rec)
    try:
        authenticate(state, rec)
        if spec is None:
            raise errors.model_not_found(request.path_params["model_id"])
    except ApiError as err:
        return error_reply(state, rec, err)
    return json_reply(state, rec, spec.listing())


async def files(request: Request) -> Response:
    """A signed image URL: no auth (like a blob SAS URL); 403 once expired, 404 when unknown."""
    state = state_of(request)
    rec = record(request)
    stored = state.get_file(request.path_params["name"])
    if stored is None or request.query_params.get("sig") != stored.signature:
        state.finish(rec, "error", 404)
        return Response(_BLOB_NOT_FOUND, status_code=404, media_type="application/xml")
    now = state.now()
    if now > stored.expires_at:
        state.finish(rec, "error", 403)
        body = _EXPIRED.format(expiry=_http_date(stored.expires_at), now=_http_date(now))
        return Response(body, status_code=403, media_type="application/xml")
    return raw_reply(state, rec, stored.data, stored.media_type)


def _http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def _not_found(state: EmulatorState, rec: RecordedRequest) -> JSONResponse:
    message = f"Invalid URL ({rec.method} {rec.path})"
    return error_reply(state, rec, ApiError(404, message, code=None))


async def not_found(request: Request) -> Response:
    state = state_of(request)
    return _not_found(state, record(request))
