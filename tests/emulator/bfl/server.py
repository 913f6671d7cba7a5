"""The BFL emulator: app, task state machine and the `BFLEmulator` handle (see the package docstring)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..jobs import Fault, JobState, image_size, picture
from ..openrouter.server import LoopbackEmulator, knob

DEFAULT_KEY = "bfl-test-key-0123456789abcdef"
# endpoint -> (credits, size kind) as the reference prices them; FLUX.2 cost is per megapixel.
ENDPOINTS = {
    "flux-pro-1.1": (4.0, "wh32"),
    "flux-pro-1.1-ultra": (6.0, "aspect"),
    "flux-kontext-pro": (4.0, "aspect"),
    "flux-kontext-max": (8.0, "aspect"),
    "flux-pro-1.0-fill": (5.0, "input"),
    "flux-pro-1.0-expand": (5.0, "input"),
    "flux-dev": (2.5, "wh32"),
    "flux-2-pro": (3.0, "wh16"),
    "flux-2-max": (7.0, "wh16"),
    "flux-2-flex": (5.0, "wh16"),
    "flux-2-klein-4b": (1.5, "wh16"),
    "flux-2-klein-9b": (1.5, "wh16"),
}
SUBMIT_FAULTS = ("rate_limit", "no_credits", "server_error", "bad_key_scope")
TASK_FAULTS = (
    "request_moderated",
    "content_moderated",
    "error",
    "task_not_found",
    "foreign_polling",
    "foreign_result",
    "expired_result",
    "slow",
)


@dataclass
class Task:
    id: str
    model: str
    body: dict[str, Any]
    width: int
    height: int
    final: str = "Ready"  # what the task ends as
    pending_polls: int = 1  # Pending answers before the final status
    polls: int = 0
    sample: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class BFLState(JobState):
    def __init__(self, api_key: str, url_lifetime_s: float) -> None:
        super().__init__("x-key", url_lifetime_s)
        self.api_key = api_key
        self.tasks: dict[str, Task] = {}
        self.active_limit = 24
        self.kontext_max_limit = 6
        self.pending_polls = 1
        self.send_cost = True
        self.root_url = ""
        self.polling_host = "localhost"  # polling_url names another host spelling of the same server

    def reset(self) -> None:
        super().reset()
        with self.cond:
            self.tasks.clear()

    def active(self, model: str | None = None) -> int:
        with self.cond:
            return sum(
                1
                for t in self.tasks.values()
                if t.polls <= t.pending_polls and t.final == "Ready" and (model is None or t.model == model)
            )


def _detail(loc: str, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"detail": [{"loc": ["body", loc], "msg": msg, "type": kind}]}


def _validate(model: str, body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return {"detail": "body must be a JSON object"}
    if model not in ("flux-pro-1.0-fill", "flux-pro-1.0-expand") and not body.get("prompt"):
        return _detail("prompt", "field required", "missing")
    size = ENDPOINTS[model][1]
    for side in ("width", "height"):
        value = body.get(side)
        if value is None:
            continue
        step, low, high = (32, 256, 1440) if size == "wh32" else (16, 64, 4096)
        if size not in ("wh32", "wh16"):
            return _detail(side, f"{model} takes no {side}", "extra_forbidden")
        if not isinstance(value, int) or value % step or not low <= value <= high:
            return _detail(side, f"{side} must be a multiple of {step} between {low} and {high}")
    if body.get("output_format") not in (None, "jpeg", "png"):
        return _detail("output_format", "must be jpeg or png")
    if model in ("flux-pro-1.0-fill", "flux-pro-1.0-expand") and image_size(body.get("image")) is None:
        return _detail("image", "a base64 image is required")
    if (
        model == "flux-pro-1.0-fill"
        and body.get("mask") is not None
        and image_size(body["mask"]) != image_size(body["image"])
    ):
        return _detail("mask", "mask must have the image's dimensions")
    for side in ("top", "bottom", "left", "right"):
        if not 0 <= int(body.get(side, 0)) <= 2048:
            return _detail(side, "must be between 0 and 2048")
    return None


def _output_size(model: str, body: dict[str, Any]) -> tuple[int, int]:
    kind = ENDPOINTS[model][1]
    if kind in ("wh32", "wh16"):
        return int(body.get("width") or 1024), int(body.get("height") or 768)
    if kind == "input":
        w, h = image_size(body.get("image")) or (1024, 768)
        return w + int(body.get("left", 0)) + int(body.get("right", 0)), h + int(body.get("top", 0)) + int(
            body.get("bottom", 0)
        )
    ratio = str(body.get("aspect_ratio") or "16:9" if model.endswith("ultra") else body.get("aspect_ratio") or "1:1")
    rw, rh = (float(p) for p in ratio.split(":"))
    return (1024, max(8, round(1024 * rh / rw))) if rw >= rh else (max(8, round(1024 * rw / rh)), 1024)


def build_app(state: BFLState) -> Starlette:
    async def submit(request: Request) -> Response:
        model = request.path_params["model"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        rec = state.record("POST", request.url.path, request.url.query, dict(request.headers), body)

        def answer(status: int, payload: Any) -> Response:
            state.answered(rec, status)
            return JSONResponse(payload, status_code=status)

        if request.headers.get("x-key") != state.api_key:
            return answer(403, {"detail": "Not authenticated - Invalid API key"})
        if model not in ENDPOINTS:
            return answer(404, {"detail": "Not Found"})
        problem = _validate(model, body)
        if problem is not None:
            return answer(422, problem)
        fault = state.take_fault(SUBMIT_FAULTS)
        limit = state.kontext_max_limit if model == "flux-kontext-max" else state.active_limit
        if (fault is not None and fault.kind == "rate_limit") or state.active(
            model if model == "flux-kontext-max" else None
        ) >= limit:
            return answer(429, {"detail": f"You have exceeded the limit of {limit} active tasks."})
        if fault is not None and fault.kind == "no_credits":
            return answer(402, {"detail": "Insufficient credits"})
        if fault is not None and fault.kind == "server_error":
            return answer(500, {"detail": "Internal Server Error"})
        if fault is not None and fault.kind == "bad_key_scope":
            return answer(403, {"detail": "This key lacks access to this endpoint"})
        width, height = _output_size(model, body)
        task = Task(secrets.token_hex(8), model, body, width, height, pending_polls=state.pending_polls)
        taken = state.take_fault(TASK_FAULTS)
        if taken is not None:
            task.options = {"kind": taken.kind, **taken.options}
            finals = {
                "request_moderated": "Request Moderated",
                "content_moderated": "Content Moderated",
                "error": "Error",
                "task_not_found": "Task not found",
            }
            task.final = finals.get(taken.kind, "Ready")
            if taken.kind == "slow":
                task.pending_polls = int(taken.options.get("polls", 4))
        with state.cond:
            state.tasks[task.id] = task
        root = state.root_url.replace("127.0.0.1", state.polling_host)
        if task.options.get("kind") == "foreign_polling":
            root = str(task.options["url"])
        credits, kind = ENDPOINTS[model]
        if kind == "wh16":
            credits += {"flux-2-pro": 1.5, "flux-2-max": 3.0, "flux-2-flex": 5.0}.get(model, 0.0) * max(
                0, -(-width * height // 1_000_000) - 1
            )
        payload: dict[str, Any] = {"id": task.id, "polling_url": f"{root}/v1/get_result?id={task.id}"}
        if state.send_cost:
            payload.update(cost=credits, input_mp=0.0, output_mp=round(width * height / 1e6, 3))
        return answer(200, payload)

    async def get_result(request: Request) -> Response:
        rec = state.record("GET", request.url.path, request.url.query, dict(request.headers), None)

        def answer(payload: Any, status: int = 200) -> Response:
            state.answered(rec, status)
            return JSONResponse(payload, status_code=status)

        if request.headers.get("x-key") != state.api_key:
            return answer({"detail": "Not authenticated - Invalid API key"}, 403)
        job = request.query_params.get("id", "")
        with state.cond:
            task = state.tasks.get(job)
            if task is not None:
                task.polls += 1
        if task is None:
            return answer({"id": job, "status": "Task not found", "result": None, "progress": None})
        base = {"id": task.id, "result": None, "details": None, "preview": None}
        if task.polls <= task.pending_polls:
            return answer({**base, "status": "Pending", "progress": round(task.polls / (task.pending_polls + 1), 2)})
        if task.final == "Error":
            return answer({**base, "status": "Error", "details": {"error": "Generation failed on the GPU worker"}})
        if task.final != "Ready":
            details = {"Moderation Reasons": ["Derivative Works"]} if "Moderated" in task.final else None
            return answer({**base, "status": task.final, "details": details})
        if task.sample is None:
            fmt = str(task.body.get("output_format") or "jpeg")
            data = picture(str(task.body.get("prompt", "")), task.width, task.height, fmt)
            kind = task.options.get("kind")
            name = state.add_file(data, f"image/{fmt}", lifetime_s=0 if kind == "expired_result" else None)
            root = str(task.options["url"]) if kind == "foreign_result" else state.root_url
            task.sample = f"{root}/delivery/{name}/sample.{'jpg' if fmt == 'jpeg' else fmt}?se=x&sig=secret"
            if kind == "expired_result":
                state.clock_offset_s += 1  # the 10-minute URL is already dead
        result = {"sample": task.sample, "prompt": task.body.get("prompt"), "seed": task.body.get("seed", 42)}
        return answer({**base, "status": "Ready", "result": result, "progress": 1.0})

    async def delivery(request: Request) -> Response:
        rec = state.record("GET", request.url.path, request.url.query, dict(request.headers), None)
        status, data, mime = state.file(request.path_params["name"])
        state.answered(rec, status)
        return Response(data, status_code=status, media_type=mime)

    async def not_found(request: Request) -> Response:
        rec = state.record(request.method, request.url.path, request.url.query, dict(request.headers), None)
        state.answered(rec, 404)
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    return Starlette(
        routes=[
            Route("/v1/get_result", get_result, methods=["GET"]),
            Route("/v1/{model}", submit, methods=["POST"]),
            Route("/delivery/{name}/{file}", delivery, methods=["GET"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )


class BFLEmulator(LoopbackEmulator):
    """A loopback BFL API. `base_url` is what `BFL_BASE_URL` is set to."""

    def __init__(self, *, api_key: str = DEFAULT_KEY, url_lifetime_s: float = 600.0, port: int = 0) -> None:
        self.api_key = api_key
        self.state = BFLState(api_key, url_lifetime_s)
        super().__init__("127.0.0.1", port, "bfl-emulator")

    def _build_app(self) -> Any:
        return build_app(self.state)

    def start(self) -> BFLEmulator:
        super().start()
        self.state.root_url = self.root_url
        return self

    @property
    def base_url(self) -> str:
        return self.root_url

    def fault(self, kind: str, times: int | None = 1, **options: Any) -> None:
        """Queue `kind` (see the package docstring) for the next `times` matching requests (None = sticky)."""
        if kind not in SUBMIT_FAULTS + TASK_FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        self.state.add_fault(Fault(kind, options), times)

    def clear_faults(self) -> None:
        with self.state.cond:
            self.state.faults.clear()
            self.state.sticky = None

    def reset(self) -> None:
        self.state.reset()

    def advance_clock(self, seconds: float) -> None:
        with self.state.cond:
            self.state.clock_offset_s += seconds

    def submits(self) -> list[Any]:
        return [r for r in self.requests if r.method == "POST" and r.path.startswith("/v1/")]

    def polls(self) -> list[Any]:
        return [r for r in self.requests if r.path == "/v1/get_result"]

    @property
    def tasks(self) -> dict[str, Task]:
        with self.state.cond:
            return dict(self.state.tasks)

    pending_polls = knob("pending_polls", "Pending answers before a task's final status (default 1).")
    active_limit = knob("active_limit", "Active tasks before 429 (default 24; kontext-max: kontext_max_limit, 6).")
    send_cost = knob("send_cost", "Whether the submit answer carries `cost` in credits (default True).")
    url_lifetime_s = knob("url_lifetime_s", "How long result.sample stays downloadable (default 600 s).")
