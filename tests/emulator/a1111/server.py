"""The AUTOMATIC1111 emulator: state, routes and the handle tests use."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..localsd import LocalState, RecordedRequest, picture, size_of
from ..openrouter.server import LoopbackEmulator

CHECKPOINTS = [
    {"title": "v1-5-pruned-emaonly.safetensors [6ce0161689]", "model_name": "v1-5-pruned-emaonly",
     "hash": "6ce0161689", "filename": "/sd/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors"},
    {"title": "sd_xl_base_1.0.safetensors [31e35c80fc]", "model_name": "sd_xl_base_1.0",
     "hash": "31e35c80fc", "filename": "/sd/models/Stable-diffusion/sd_xl_base_1.0.safetensors"},
]  # fmt: skip
UPSCALERS = ["None", "Lanczos", "Nearest", "ESRGAN_4x", "R-ESRGAN 4x+", "SwinIR_4x"]
SAMPLERS = ["Euler a", "Euler", "DPM++ 2M Karras", "DPM++ 2M", "DDIM"]
TYPES = {"steps": int, "width": int, "height": int, "batch_size": int, "n_iter": int, "seed": int,
         "cfg_scale": (int, float), "denoising_strength": (int, float)}  # fmt: skip


class Job:
    def __init__(self, kind: str, steps: int) -> None:
        self.kind, self.steps, self.step, self.interrupted = kind, steps, 0, False
        self.started = time.monotonic()


class A1111State(LocalState):
    def __init__(self, auth: str | None, step_s: float) -> None:
        super().__init__()
        self.auth, self.step_s = auth, step_s
        self.checkpoints = [dict(c) for c in CHECKPOINTS]
        self.upscalers = list(UPSCALERS)
        self.loaded = self.checkpoints[0]["title"]
        self.job: Job | None = None
        self.jobs_done = 0
        self.job_times: list[tuple[float, float]] = []  # (start, end) of every job, in the order they ran
        self.interrupts = 0
        self.lock: asyncio.Lock | None = None


def _error(status: int, detail: str, kind: str = "HTTPException") -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail, "body": "", "errors": ""}, status_code=status)


def _b64_image(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError
    if value.startswith("data:"):
        value = value.split(",", 1)[1]
    data = base64.b64decode(value, validate=True)
    size_of(data)  # raises on anything that is not an image
    return data


def build_app(state: A1111State) -> Starlette:
    async def recorded(request: Request) -> tuple[RecordedRequest, Any]:
        body: Any = None
        raw = await request.body()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        rec = RecordedRequest(request.method, request.url.path, request.url.query,
                              {k.lower(): v for k, v in request.headers.items()}, body)  # fmt: skip
        return state.record(rec), body

    def denied(rec: RecordedRequest) -> JSONResponse | None:
        if state.auth is None:
            return None
        expected = "Basic " + base64.b64encode(state.auth.encode()).decode()
        if rec.headers.get("authorization") == expected:
            return None
        return JSONResponse({"detail": "Incorrect username or password"}, status_code=401,
                            headers={"WWW-Authenticate": "Basic"})  # fmt: skip

    async def lists(request: Request) -> JSONResponse:
        rec, _ = await recorded(request)
        if (no := denied(rec)) is not None:
            return no
        name = request.url.path.rsplit("/", 1)[-1]
        with state.cond:
            if name == "sd-models":
                return JSONResponse([{**c, "sha256": None, "config": None} for c in state.checkpoints])
            if name == "upscalers":
                return JSONResponse([{"name": u, "model_name": None, "model_path": None, "model_url": None,
                                      "scale": 4} for u in state.upscalers])  # fmt: skip
            return JSONResponse([{"name": s, "aliases": [], "options": {}} for s in SAMPLERS])

    async def options(request: Request) -> JSONResponse:
        rec, body = await recorded(request)
        if (no := denied(rec)) is not None:
            return no
        with state.cond:
            if request.method == "POST" and isinstance(body, dict) and "sd_model_checkpoint" in body:
                title = _find(state, str(body["sd_model_checkpoint"]))
                if title is None:
                    return _error(500, "model not found", "RuntimeError")
                state.loaded = title
            return JSONResponse({"sd_model_checkpoint": state.loaded, "samples_format": "png"})

    async def progress(request: Request) -> JSONResponse:
        rec, _ = await recorded(request)
        if (no := denied(rec)) is not None:
            return no
        with state.cond:
            job = state.job
            if job is None:
                return JSONResponse({"progress": 0.0, "eta_relative": 0.0, "current_image": None, "textinfo": None,
                                     "state": {"job_count": 0, "sampling_step": 0, "sampling_steps": 0,
                                               "interrupted": False, "skipped": False, "job": ""}})  # fmt: skip
            fraction = job.step / job.steps if job.steps else 0.0
            eta = (job.steps - job.step) * state.step_s
            return JSONResponse({
                "progress": round(fraction, 3), "eta_relative": eta, "current_image": None, "textinfo": None,
                "state": {"job_count": 1, "job_no": 0, "sampling_step": job.step, "sampling_steps": job.steps,
                          "interrupted": job.interrupted, "skipped": False, "job": job.kind,
                          "job_timestamp": "20260101000000"},
            })  # fmt: skip

    async def interrupt(request: Request) -> JSONResponse:
        rec, _ = await recorded(request)
        if (no := denied(rec)) is not None:
            return no
        with state.cond:
            state.interrupts += 1
            if state.job is not None:
                state.job.interrupted = True
            state.cond.notify_all()
        return JSONResponse({})

    async def run_job(kind: str, steps: int) -> bool:
        """Hold the one lock for the job's steps; False when interrupted (it still answers, as A1111 does)."""
        if state.lock is None:
            state.lock = asyncio.Lock()
        async with state.lock:
            job = Job(kind, steps)
            with state.cond:
                state.job = job
                state.cond.notify_all()
            try:
                for _ in range(steps):
                    if state.step_s:
                        await asyncio.sleep(state.step_s)
                    with state.cond:
                        if job.interrupted or state.closing:
                            return False
                        job.step += 1
                return True
            finally:
                with state.cond:
                    state.job_times.append((job.started, time.monotonic()))
                    state.job = None
                    state.jobs_done += 1
                    state.cond.notify_all()

    async def generation(request: Request) -> JSONResponse:
        rec, body = await recorded(request)
        if (no := denied(rec)) is not None:
            return no
        kind = request.url.path.rsplit("/", 1)[-1]
        if not isinstance(body, dict):
            return JSONResponse({"detail": [{"loc": ["body"], "msg": "field required", "type": "value_error"}]},
                                status_code=422)  # fmt: skip
        bad = [k for k, t in TYPES.items() if k in body and (isinstance(body[k], bool) or not isinstance(body[k], t))]
        if bad:
            return JSONResponse({"detail": [{"loc": ["body", k], "msg": "value is not a valid integer",
                                             "type": "type_error"} for k in bad]}, status_code=422)  # fmt: skip
        overrides = body.get("override_settings") or {}
        checkpoint = state.loaded
        if "sd_model_checkpoint" in overrides:
            found = _find(state, str(overrides["sd_model_checkpoint"]))
            if found is None:
                return _error(404, "Model not found")
            checkpoint = found
        if body.get("sampler_name", "Euler") not in SAMPLERS:
            return _error(404, "Sampler not found")
        width, height = int(body.get("width", 512)), int(body.get("height", 512))
        if kind == "img2img":
            try:
                [_b64_image(i) for i in body.get("init_images") or [None]]
                if body.get("mask") is not None:
                    _b64_image(body["mask"])
            except (ValueError, binascii.Error, OSError):
                return _error(500, "Invalid encoded image", "HTTPException")
        if body.get("enable_hr"):
            scale = float(body.get("hr_scale", 2))
            width, height = int(width * scale), int(height * scale)
        steps = int(body.get("steps", 20))
        await run_job(kind, steps)
        seed = int(body.get("seed", -1))
        seed = seed if seed != -1 else 1234567
        count = int(body.get("batch_size", 1)) * int(body.get("n_iter", 1))
        fmt = str(overrides.get("samples_format", "png"))
        seeds = [seed + i for i in range(count)]
        images = [base64.b64encode(picture(width, height, f"{kind}|{body.get('prompt')}|{s}|{checkpoint}",
                                           fmt)).decode() for s in seeds]  # fmt: skip
        info = {"prompt": body.get("prompt", ""), "all_prompts": [body.get("prompt", "")] * count,
                "negative_prompt": body.get("negative_prompt", ""), "seed": seed, "all_seeds": seeds,
                "subseed": 42, "width": width, "height": height, "sampler_name": body.get("sampler_name", "Euler"),
                "cfg_scale": body.get("cfg_scale", 7.0), "steps": steps, "sd_model_name": checkpoint.split(".")[0],
                "sd_model_hash": checkpoint.rsplit("[", 1)[-1].rstrip("]"), "index_of_first_image": 0,
                "denoising_strength": body.get("denoising_strength"), "job_timestamp": "20260101000000"}  # fmt: skip
        params = {k: v for k, v in body.items() if k not in ("init_images", "mask")}
        return JSONResponse({"images": images, "parameters": params, "info": json.dumps(info)})

    async def extras(request: Request) -> JSONResponse:
        rec, body = await recorded(request)
        if (no := denied(rec)) is not None:
            return no
        if not isinstance(body, dict):
            return JSONResponse({"detail": [{"loc": ["body"], "msg": "field required"}]}, status_code=422)
        upscaler = body.get("upscaler_1", "None")
        if upscaler not in state.upscalers:
            return _error(400, f"Invalid upscaler, needs to be one of these: {', '.join(state.upscalers)}")
        try:
            data = _b64_image(body.get("image"))
        except (ValueError, binascii.Error, OSError):
            return _error(500, "Invalid encoded image")
        await run_job("extras", 4)
        width, height = size_of(data)
        if int(body.get("resize_mode", 0)) == 1:
            width, height = int(body.get("upscaling_resize_w", 512)), int(body.get("upscaling_resize_h", 512))
        else:
            scale = float(body.get("upscaling_resize", 2))
            width, height = int(width * scale), int(height * scale)
        out = picture(width, height, f"extras|{upscaler}|{len(data)}")
        return JSONResponse({"image": base64.b64encode(out).decode(), "html_info": f"<p>{upscaler}</p>"})

    async def not_found(request: Request) -> JSONResponse:
        await recorded(request)
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    routes = [
        Route("/sdapi/v1/txt2img", generation, methods=["POST"]),
        Route("/sdapi/v1/img2img", generation, methods=["POST"]),
        Route("/sdapi/v1/extra-single-image", extras, methods=["POST"]),
        Route("/sdapi/v1/sd-models", lists, methods=["GET"]),
        Route("/sdapi/v1/upscalers", lists, methods=["GET"]),
        Route("/sdapi/v1/samplers", lists, methods=["GET"]),
        Route("/sdapi/v1/options", options, methods=["GET", "POST"]),
        Route("/sdapi/v1/progress", progress, methods=["GET"]),
        Route("/sdapi/v1/interrupt", interrupt, methods=["POST"]),
        Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)


def _find(state: A1111State, name: str) -> str | None:
    for c in state.checkpoints:
        if name in (c["title"], c["model_name"], c["title"].split(" [")[0]):
            return str(c["title"])
    return None


class A1111Emulator(LoopbackEmulator):
    def __init__(self, *, auth: str | None = None, step_s: float = 0.0, host: str = "127.0.0.1") -> None:
        self.state = A1111State(auth, step_s)
        super().__init__(host, 0, "a1111-emulator")

    def _build_app(self) -> Any:
        return build_app(self.state)

    @property
    def base_url(self) -> str:
        return self.root_url

    @property
    def step_s(self) -> float:
        return self.state.step_s

    @step_s.setter
    def step_s(self, value: float) -> None:
        with self.state.cond:
            self.state.step_s = value

    @property
    def interrupts(self) -> int:
        with self.state.cond:
            return self.state.interrupts

    @property
    def jobs_done(self) -> int:
        with self.state.cond:
            return self.state.jobs_done

    def posts(self, suffix: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]

    def wait_for_job(self, timeout: float = 5.0) -> None:
        if not self.state.wait_for(lambda: self.state.job is not None and self.state.job.step > 0, timeout):
            raise TimeoutError("no A1111 job started")

    def wait_idle(self, timeout: float = 5.0) -> None:
        if not self.state.wait_for(lambda: self.state.job is None, timeout):
            raise TimeoutError("the A1111 job did not end")

    def reset(self) -> None:
        with self.state.cond:
            self.state.requests.clear()
            self.state.cancelled.clear()
            self.state.interrupts = self.state.jobs_done = 0
            self.state.job_times.clear()
            self.state.step_s = 0.0
            self.state.auth = None
            self.state.checkpoints = [dict(c) for c in CHECKPOINTS]
            self.state.upscalers = list(UPSCALERS)
            self.state.loaded = self.state.checkpoints[0]["title"]


def png_of(width: int, height: int, colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()
