"""The fal emulator: queue app, request state machine and the `FalEmulator` handle (see the package docstring)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..jobs import Fault, JobState, image_size, picture
from ..openrouter.server import LoopbackEmulator, knob

DEFAULT_KEY = "fal-test-id:0123456789abcdef0123"
PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# endpoint -> (required inputs, output shape: "images" or "image")
ENDPOINTS: dict[str, tuple[tuple[str, ...], str]] = {
    "fal-ai/flux/dev": (("prompt",), "images"),
    "fal-ai/flux-pro/v1.1": (("prompt",), "images"),
    "fal-ai/flux-pro/v1.1-ultra": (("prompt",), "images"),
    "fal-ai/flux/dev/image-to-image": (("prompt", "image_url"), "images"),
    "fal-ai/flux-pro/kontext": (("prompt", "image_url"), "images"),
    "fal-ai/flux-pro/kontext/max": (("prompt", "image_url"), "images"),
    "fal-ai/flux-pro/kontext/multi": (("prompt", "image_urls"), "images"),
    "fal-ai/flux-pro/v1/fill": (("prompt", "image_url", "mask_url"), "images"),
    "fal-ai/flux/dev/redux": (("image_url",), "images"),
    "fal-ai/flux-pulid": (("prompt", "reference_image_url"), "images"),
    "fal-ai/pulid": (("prompt", "reference_images"), "images"),
    "fal-ai/esrgan": (("image_url",), "image"),
    "fal-ai/clarity-upscaler": (("image_url",), "image"),
    "fal-ai/aura-sr": (("image_url",), "image"),
}
SUBMIT_FAULTS = ("rate_limit", "no_credits", "server_error", "foreign_status")
JOB_FAULTS = ("content_policy", "nsfw", "hold", "expired_result", "slow", "failed")


@dataclass
class Job:
    id: str
    endpoint: str
    body: dict[str, Any]
    queue_polls: int = 1  # IN_QUEUE answers (position counting down), then IN_PROGRESS, then COMPLETED
    progress_polls: int = 1
    polls: int = 0
    hold: bool = False  # stays IN_PROGRESS until cancelled
    cancelled: bool = False
    fault: str | None = None
    result: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> str:
        return "/".join(self.endpoint.split("/")[:2])

    @property
    def status(self) -> str:
        if self.cancelled:
            return "COMPLETED"
        if self.polls <= self.queue_polls:
            return "IN_QUEUE"
        if self.hold or self.polls <= self.queue_polls + self.progress_polls:
            return "IN_PROGRESS"
        return "COMPLETED"


class FalState(JobState):
    def __init__(self, api_key: str, url_lifetime_s: float) -> None:
        super().__init__("authorization", url_lifetime_s)
        self.api_key = api_key
        self.jobs: dict[str, Job] = {}
        self.queue_polls = 1
        self.progress_polls = 1
        self.root_url = ""

    def reset(self) -> None:
        super().reset()
        with self.cond:
            self.jobs.clear()


def _detail(loc: str, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"detail": [{"loc": ["body", loc], "msg": msg, "type": kind}]}


def _validate(endpoint: str, body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return {"detail": "body must be a JSON object"}
    for name in ENDPOINTS[endpoint][0]:
        if not body.get(name):
            return _detail(name, "field required", "missing")
    if body.get("output_format") not in (None, "jpeg", "png"):
        return _detail("output_format", "Input should be 'jpeg' or 'png'", "literal_error")
    strength = body.get("strength")
    if strength is not None and not (isinstance(strength, int | float) and 0 < strength <= 1):
        return _detail("strength", "Input should be greater than 0 and at most 1")
    size = body.get("image_size")
    if size is not None and not (size in PRESETS or (isinstance(size, dict) and {"width", "height"} <= set(size))):
        return _detail("image_size", "Input should be a preset name or {width, height}")
    if endpoint.endswith("fill") and image_size(body["mask_url"]) != image_size(body["image_url"]):
        return _detail("mask_url", "the mask must have the image's dimensions")
    return None


def _size(job: Job) -> tuple[int, int]:
    body = job.body
    size = body.get("image_size")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    if isinstance(size, str):
        return PRESETS[size]
    source = body.get("image_url")
    found = image_size(source) if source else None
    if ENDPOINTS[job.endpoint][1] == "image":  # upscalers
        w, h = found or (256, 256)
        factor = int(body.get("scale") or body.get("upscale_factor") or (4 if job.endpoint.endswith("aura-sr") else 2))
        return w * factor, h * factor
    return found or PRESETS["landscape_4_3"]


def _result(state: FalState, job: Job) -> dict[str, Any]:
    width, height = _size(job)
    fmt = str(job.body.get("output_format") or "jpeg")
    count = int(job.body.get("num_images") or 1)
    life = 0.0 if job.fault == "expired_result" else None
    items = []
    for i in range(count):
        name = state.add_file(
            picture(str(job.body.get("prompt", job.endpoint)), width, height, fmt, i), f"image/{fmt}", lifetime_s=life
        )
        items.append(
            {
                "url": f"{state.root_url}/files/{name}.{'jpg' if fmt == 'jpeg' else fmt}",
                "width": width,
                "height": height,
                "content_type": f"image/{fmt}",
            }
        )
    if job.fault == "expired_result":
        state.clock_offset_s += 1
    if ENDPOINTS[job.endpoint][1] == "image":
        return {"image": items[0], "timings": {"inference": 0.1}}
    flags = [job.fault == "nsfw"] * count
    return {
        "images": items,
        "seed": job.body.get("seed", 1234),
        "has_nsfw_concepts": flags,
        "prompt": job.body.get("prompt", ""),
        "timings": {"inference": 0.1},
    }


def build_app(state: FalState) -> Starlette:
    def record(request: Request, body: Any = None) -> Any:
        return state.record(request.method, request.url.path, request.url.query, dict(request.headers), body)

    def answer(rec: Any, payload: Any, status: int = 200) -> Response:
        state.answered(rec, status)
        return JSONResponse(payload, status_code=status)

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Key {state.api_key}"

    def urls(job: Job, root: str) -> dict[str, str]:
        base = f"{state.root_url}/{job.app}/requests/{job.id}"
        return {
            "request_id": job.id,
            "response_url": base,
            "status_url": f"{root}/{job.app}/requests/{job.id}/status",
            "cancel_url": f"{base}/cancel",
        }

    async def route(request: Request) -> Response:
        path = request.path_params["path"]
        if request.method == "POST":
            return await submit(request, path)
        parts = path.split("/")
        if len(parts) >= 4 and parts[2] == "requests":
            return await job_route(request, "/".join(parts[:2]), parts[3], parts[4:])
        rec = record(request)
        return answer(rec, {"detail": "Not Found"}, 404)

    async def submit(request: Request, endpoint: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        rec = record(request, body)
        if not authorized(request):
            return answer(rec, {"detail": "Unauthorized: invalid key"}, 401)
        if endpoint not in ENDPOINTS:
            return answer(rec, {"detail": f"Application '{endpoint}' not found"}, 404)
        problem = _validate(endpoint, body)
        if problem is not None:
            return answer(rec, problem, 422)
        fault = state.take_fault(SUBMIT_FAULTS)
        kind = fault.kind if fault else None
        if kind == "rate_limit":
            return answer(rec, {"detail": "Too many requests"}, 429)
        if kind == "no_credits":
            return answer(rec, {"detail": "User is locked. Reason: Exhausted balance."}, 402)
        if kind == "server_error":
            return answer(rec, {"detail": "Internal server error"}, 500)
        job = Job(secrets.token_hex(8), endpoint, body, state.queue_polls, state.progress_polls)
        taken = state.take_fault(JOB_FAULTS)
        if taken is not None:
            job.fault, job.options = taken.kind, taken.options
            job.hold = taken.kind == "hold"
            if taken.kind == "slow":
                job.queue_polls = int(taken.options.get("polls", 3))
        with state.cond:
            state.jobs[job.id] = job
        root = str(fault.options["url"]) if kind == "foreign_status" and fault else state.root_url
        return answer(rec, {"status": "IN_QUEUE", **urls(job, root), "queue_position": job.queue_polls - 1})

    async def job_route(request: Request, app: str, job_id: str, rest: list[str]) -> Response:
        rec = record(request)
        if not authorized(request):
            return answer(rec, {"detail": "Unauthorized: invalid key"}, 401)
        with state.cond:
            job = state.jobs.get(job_id)
        if job is None or job.app != app:  # the sub-path trap: …/flux/dev/requests/… is not found
            return answer(rec, {"detail": "Request not found"}, 404)
        if rest == ["status"] and request.method == "GET":
            with state.cond:
                job.polls += 1
            status = job.status
            payload: dict[str, Any] = {"status": status, **urls(job, state.root_url)}
            if status == "IN_QUEUE":
                payload["queue_position"] = max(0, job.queue_polls - job.polls)
            else:
                logs = [
                    {
                        "message": f"step {job.polls} of {job.queue_polls + job.progress_polls + 1}",
                        "level": "INFO",
                        "source": "USER",
                        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    }
                ]
                payload["logs"] = logs if request.query_params.get("logs") == "1" else []
            if status == "COMPLETED":
                payload["metrics"] = {"inference_time": 0.1}
            return answer(rec, payload)
        if rest == ["cancel"] and request.method == "PUT":
            if job.status == "COMPLETED":
                return answer(rec, {"status": "ALREADY_COMPLETED"}, 400)
            with state.cond:
                job.cancelled = True
                state.cancelled.append(rec)
            return answer(rec, {"status": "CANCELLATION_REQUESTED"}, 202)
        if rest == [] and request.method == "GET":
            if job.status != "COMPLETED":
                return answer(rec, {"detail": "Request is still in progress"}, 400)
            if job.cancelled:
                return answer(rec, {"detail": "Request was cancelled"}, 400)
            if job.fault == "content_policy":
                return answer(
                    rec,
                    {
                        "detail": [
                            {
                                "loc": ["body", "prompt"],
                                "msg": "The content could not be processed "
                                "because it contained material flagged by a content checker.",
                                "type": "content_policy_violation",
                                "url": "https://docs.fal.ai/errors",
                                "input": job.body.get("prompt"),
                                "ctx": {"categories": ["sexual"]},
                            }
                        ]
                    },
                    422,
                )
            if job.fault == "failed":
                return answer(rec, {"detail": "Internal error in the model runner"}, 500)
            if job.result is None:
                job.result = _result(state, job)
            state.answered(rec, 200)
            return JSONResponse(job.result, headers={"x-fal-request-id": job.id})
        return answer(rec, {"detail": "Method not allowed"}, 405)

    async def files(request: Request) -> Response:
        rec = record(request)
        status, data, mime = state.file(request.path_params["name"].split(".")[0])
        state.answered(rec, status)
        return Response(data, status_code=status, media_type=mime)

    return Starlette(
        routes=[
            Route("/files/{name}", files, methods=["GET"]),
            Route("/{path:path}", route, methods=["GET", "POST", "PUT"]),
        ]
    )


class FalEmulator(LoopbackEmulator):
    """A loopback fal queue. `queue_url` is what `FAL_QUEUE_URL` is set to."""

    def __init__(self, *, api_key: str = DEFAULT_KEY, url_lifetime_s: float = 3600.0, port: int = 0) -> None:
        self.api_key = api_key
        self.state = FalState(api_key, url_lifetime_s)
        super().__init__("127.0.0.1", port, "fal-emulator")

    def _build_app(self) -> Any:
        return build_app(self.state)

    def start(self) -> FalEmulator:
        super().start()
        self.state.root_url = self.root_url
        return self

    @property
    def queue_url(self) -> str:
        return self.root_url

    def fault(self, kind: str, times: int | None = 1, **options: Any) -> None:
        if kind not in SUBMIT_FAULTS + JOB_FAULTS:
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
        return [r for r in self.requests if r.method == "POST"]

    def calls(self, suffix: str, method: str = "GET") -> list[Any]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def cancels(self) -> list[Any]:
        return [r for r in self.requests if r.method == "PUT" and r.path.endswith("/cancel")]

    def wait_for_cancel(self, timeout: float = 5.0) -> Any:
        found = self.state.wait_for(lambda: [r for r in self.state.requests if r.path.endswith("/cancel")], timeout)
        if not found:
            raise TimeoutError(f"no cancel within {timeout} s")
        return found[0]

    @property
    def jobs(self) -> dict[str, Job]:
        with self.state.cond:
            return dict(self.state.jobs)

    queue_polls = knob("queue_polls", "IN_QUEUE answers before IN_PROGRESS (default 1).")
    progress_polls = knob("progress_polls", "IN_PROGRESS answers before COMPLETED (default 1).")
    url_lifetime_s = knob("url_lifetime_s", "How long result image URLs stay downloadable (default 3600 s).")
