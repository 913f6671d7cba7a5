"""The Starlette app: route table only. Handlers live in `chat`, `images_api`, `info` and `control`;
all state lives in the `EmulatorState` stored on `app.state.emulator`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from . import control, info
from .chat import chat_completions
from .images_api import images_generate
from .state import EmulatorState

API = "/api/v1"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def build_app(state: EmulatorState) -> Starlette:
    routes = [
        Route(f"{API}/images", images_generate, methods=["POST"]),
        Route(f"{API}/chat/completions", chat_completions, methods=["POST"]),
        Route(f"{API}/images/models", info.images_models, methods=["GET"]),
        Route(f"{API}/images/models/{{author}}/{{slug}}/endpoints", info.images_model_endpoints, methods=["GET"]),
        Route(f"{API}/models", info.models, methods=["GET"]),
        Route(f"{API}/model/{{author}}/{{slug}}", info.model, methods=["GET"]),
        Route(f"{API}/key", info.key_info, methods=["GET"]),
        Route(f"{API}/auth/key", info.key_info, methods=["GET"]),
        Route(f"{API}/credits", info.credits, methods=["GET"]),
        Route(f"{API}/generation", info.generation, methods=["GET"]),
        Route("/_emulator/faults", control.faults, methods=["POST"]),
        Route("/_emulator/requests", control.requests_log, methods=["GET"]),
        Route("/_emulator/latency", control.latency, methods=["POST"]),
        Route("/_emulator/config", control.config, methods=["POST"]),
        Route("/_emulator/reset", control.reset, methods=["POST"]),
        Route(f"{API}/{{rest:path}}", info.not_found, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
