"""The Starlette app: the route table under the configured prefix, the control surface at the root, and
the request-id middleware around everything."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from . import control, routes
from .plumbing import RequestIdMiddleware
from .state import EmulatorState

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def build_app(state: EmulatorState) -> Starlette:
    p = state.prefix
    table = [
        Route(f"{p}/images/generations", routes.generations, methods=["POST"]),
        Route(f"{p}/images/edits", routes.edits, methods=["POST"]),
        Route(f"{p}/images/variations", routes.variations, methods=["POST"]),
        Route(f"{p}/models", routes.models, methods=["GET"]),
        Route(f"{p}/models/{{model_id:path}}", routes.model, methods=["GET"]),
        Route("/files/{name}", routes.files, methods=["GET"]),
        Route("/_emulator/faults", control.faults, methods=["POST"]),
        Route("/_emulator/requests", control.requests_log, methods=["GET"]),
        Route("/_emulator/config", control.config, methods=["POST"]),
        Route("/_emulator/reset", control.reset, methods=["POST"]),
        Route("/{rest:path}", routes.not_found, methods=ALL_METHODS),
    ]
    app = Starlette(routes=table, middleware=[Middleware(RequestIdMiddleware, state=state)])
    app.state.emulator = state
    return app
