"""Discovery, key and accounting routes: `/images/models*`, `/models`, `/model/{a}/{s}`, `/key`,
`/auth/key`, `/credits`, `/generation`. Only `/images/models*` is public (no key), as documented."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from . import catalogue
from .common import authenticate, record, reply, state_of
from .errors import envelope, user_id_for


def mask_key(key: str) -> str:
    """`sk-or-v1-test-0123456789abcdef` → `sk-or-v1-te...def`, the way `/key` labels keys."""
    return f"{key[:11]}...{key[-3:]}"


async def images_models(request: Request) -> Response:
    state = state_of(request)
    rec, _, _ = await record(request)
    with state.cond:
        models = [m for m in state.models.values() if m.on_images_api]
    return reply(state, rec, 200, {"data": [catalogue.images_models_entry(m) for m in models]})


async def images_model_endpoints(request: Request) -> Response:
    state = state_of(request)
    rec, _, _ = await record(request)
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    with state.cond:
        spec = state.models.get(model_id)
    if spec is None or not spec.on_images_api:
        return reply(state, rec, 404, envelope(f"Model {model_id} not found", 404))
    return reply(state, rec, 200, catalogue.images_endpoints_body(spec))


async def models(request: Request) -> Response:
    state = state_of(request)
    rec, _, _ = await record(request)
    _, denied = authenticate(state, rec)
    if denied:
        return denied
    with state.cond:
        all_models = list(state.models.values())
    chosen = catalogue.filter_by_output(all_models, request.query_params.get("output_modalities"))
    return reply(state, rec, 200, {"data": [catalogue.models_entry(m) for m in chosen]})


async def model(request: Request) -> Response:
    state = state_of(request)
    rec, _, _ = await record(request)
    key, denied = authenticate(state, rec)
    if denied or key is None:
        return denied or Response(status_code=401)
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    with state.cond:
        spec = state.models.get(model_id)
    if spec is None:
        return reply(state, rec, 404, envelope(f"Model {model_id} not found", 404, user_id=user_id_for(key)))
    return reply(state, rec, 200, {"data": catalogue.models_entry(spec)})


async def key_info(request: Request) -> Response:
    """`/key` and legacy `/auth/key`: same body. Limits are null for an unlimited key."""
    state = state_of(request)
    rec, _, _ = await record(request)
    key, denied = authenticate(state, rec)
    if denied or key is None:
        return denied or Response(status_code=401)
    with state.cond:
        usage = round(state.usage_usd, 10)
        limit, remaining = state.key_limit, state.key_limit_remaining
        management = key in state.management_keys
    data = {
        "label": mask_key(key),
        "limit": None if limit is None else round(limit, 10),
        "limit_remaining": remaining,
        "limit_reset": None if limit is None else "monthly",
        "include_byok_in_limit": False,
        "usage": usage,
        "usage_daily": usage,
        "usage_weekly": usage,
        "usage_monthly": usage,
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "is_free_tier": False,
        "is_management_key": management,
        "is_provisioning_key": management,
        "creator_user_id": user_id_for(key),
        "expires_at": None,
        "rate_limit": {
            "requests": 1000,
            "interval": "1h",
            "note": "This field is deprecated and safe to ignore.",
        },
    }
    return reply(state, rec, 200, {"data": data})


async def credits(request: Request) -> Response:
    state = state_of(request)
    rec, _, _ = await record(request)
    key, denied = authenticate(state, rec)
    if denied or key is None:
        return denied or Response(status_code=401)
    with state.cond:
        management, usage = key in state.management_keys, round(state.usage_usd, 10)
    if not management:
        body = envelope("Only management keys can perform this operation", 403, user_id=user_id_for(key))
        return reply(state, rec, 403, body)
    return reply(state, rec, 200, {"data": {"total_credits": 100.5, "total_usage": usage}})


async def generation(request: Request) -> Response:
    """404 until `generation_lookup_delay_s` after the generation finished, then its data."""
    state = state_of(request)
    rec, _, _ = await record(request)
    key, denied = authenticate(state, rec)
    if denied or key is None:
        return denied or Response(status_code=401)
    gen_id = request.query_params.get("id")
    if not gen_id:
        return reply(state, rec, 400, envelope("Missing generation id", 400, user_id=user_id_for(key)))
    data = state.lookup_generation(gen_id)
    if data is None:
        return reply(state, rec, 404, envelope("Generation not found", 404, user_id=user_id_for(key)))
    return reply(state, rec, 200, {"data": data})


async def not_found(request: Request) -> Response:
    """Unknown API paths, notably `POST /images/generations` (OpenAI's path, absent on OpenRouter)."""
    state = state_of(request)
    rec, _, _ = await record(request)
    return reply(state, rec, 404, envelope("Not Found", 404))
