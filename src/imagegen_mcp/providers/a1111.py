"""The ``a1111`` provider: a local AUTOMATIC1111 (or Forge) web UI started with ``--api``.

Configured by ``STABLE_DIFFUSION_LOCAL_BASE_URL`` alone (e.g. ``http://127.0.0.1:7860``); no key.
``STABLE_DIFFUSION_LOCAL_AUTH=user:pass`` sends HTTP Basic credentials for a server started with
``--api-auth`` (a secret: redacted like a key, never in a message). Nothing goes anywhere but that
URL (an ``https`` input image the user gave is fetched first, then sent as bytes); ``cost_usd`` is 0.

Operations and how each is sent: :mod:`~imagegen_mcp.providers.a1111_wire`. Steps, CFG, sampler and
size follow the checkpoint's family (:mod:`~imagegen_mcp.providers.sd_families`). ``model`` is a
checkpoint the server lists (``/sdapi/v1/sd-models``: title, name or file name), switched per request
through ``override_settings``; unset (``default``) means the checkpoint the server has loaded. For
``upscale`` the model is an upscaler from ``/sdapi/v1/upscalers`` (unset: picked by ``mode``).

A1111 answers only when the job is done, and runs one job at a time (a lock: a second request waits
for the first). While the blocking call runs, ``/sdapi/v1/progress`` is polled beside it (the one
polling helper) and reported as MCP progress ("step 12/30, 40 %"). When the host cancels the call,
or the deadline passes, ``POST /sdapi/v1/interrupt`` is sent (shielded). A1111's interrupt is
**global**: it stops whatever job the server is running at that moment — with one user, this one;
on a shared server, possibly someone else's, and a request still waiting for the lock is not
stopped by it (it runs when its turn comes; its answer is then thrown away).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from imagegen_mcp import errors as e
from imagegen_mcp.imaging import codec, masks
from imagegen_mcp.imaging.download import input_bytes
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.providers import a1111_wire as wire
from imagegen_mcp.providers.base import (
    Call,
    Capabilities,
    ModelInfo,
    Operation,
    ProgressFn,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
    origin_of,
)
from imagegen_mcp.providers.http import Endpoint, Reply, SharedClient, json_of, send
from imagegen_mcp.providers.polling import PollStatus, poll
from imagegen_mcp.providers.sd_families import family_of

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings

DEFAULT = "default"  # the checkpoint the server has loaded (or, for upscale, the upscaler picked by mode)
BASE_VARIABLE = "STABLE_DIFFUSION_LOCAL_BASE_URL"
AUTH_VARIABLE = "STABLE_DIFFUSION_LOCAL_AUTH"
_EDIT = frozenset({"n", "negative_prompt", "seed", "output_format", "input_images", "strength"})
OPERATIONS: dict[Operation, frozenset[str]] = {
    "generate": _EDIT | {"image_size", "aspect_ratio"},
    "edit": _EDIT,
    "variation": _EDIT,
    "inpaint": _EDIT | {"mask"},
    "outpaint": _EDIT | {"expand"},
    "upscale": frozenset({"input_images", "scale", "mode"}),
}


class A1111Provider:
    name = "a1111"
    capabilities = Capabilities(
        name="a1111",
        operations=OPERATIONS,
        default_models=dict.fromkeys(OPERATIONS, DEFAULT),
        max_images=8,
        offline=True,
        notes="local AUTOMATIC1111/Forge web UI (--api): txt2img, img2img, inpaint, outpaint, upscale; cost 0",
    )

    def __init__(
        self,
        http: SharedClient | None = None,
        *,
        base_url: str,
        auth: str | None = None,
        timeout_s: float = 600.0,
        progress_interval_s: float = 0.5,
    ) -> None:
        self._owns_http = http is None
        self.http = http or SharedClient(timeout_s)
        self._base = base_url.rstrip("/")
        self._auth = auth
        self.timeout_s = timeout_s
        self.progress_interval_s = progress_interval_s
        self._endpoint = Endpoint("AUTOMATIC1111", self._base, BASE_VARIABLE)

    @classmethod
    def from_settings(cls, settings: Settings, http: SharedClient) -> A1111Provider:
        env = settings.provider_env
        return cls(
            http,
            base_url=env.get(BASE_VARIABLE, ""),
            auth=env.get(AUTH_VARIABLE) or None,
            timeout_s=settings.request_timeout_s,
            progress_interval_s=min(1.0, settings.progress_interval_s),
        )

    @property
    def configured(self) -> bool:
        return bool(self._base)

    @property
    def origin(self) -> str | None:
        return origin_of(self._base) if self._base else None

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ run

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        op = request.operation
        if op not in OPERATIONS:
            raise e.BadRequestError(f"a1111 cannot do {op}; nothing was sent", "pin a provider that can")
        if op != "generate" and not request.input_images:
            raise e.BadRequestError(f"{op} needs an input image; nothing was sent", "pass the image to work on")
        if len(request.input_images) > 1:
            raise e.BadRequestError(
                f"a1111 takes one input image (img2img), not {len(request.input_images)}; nothing was sent",
                "pass one image (references need a provider that takes several, e.g. openai or comfyui workflows)",
            )
        if op == "inpaint" and request.mask is None:
            raise e.BadRequestError("inpaint needs a mask; nothing was sent", "pass mask (or mask_box)")
        if op == "upscale":
            return await self._upscale(request, call)
        checkpoint, title = await self._checkpoint(request.model)
        family = family_of(title)
        images, mask, size = await self._inputs(request)
        route, body = wire.generation_body(request, family, checkpoint, images=images, mask=mask, size=size)
        answer = await self._blocking(route, body, call, checkpoint or title)
        info = wire.info_of(answer)
        found = [i for i in answer.get("images") or [] if isinstance(i, str)]
        first = info.get("index_of_first_image", 0) if isinstance(info.get("index_of_first_image"), int) else 0
        found = found[first : first + request.n] or found[: request.n]
        if not found:
            raise e.NoImageError("AUTOMATIC1111 answered with no image (was the job interrupted?)", "retry")
        result_images = [ProviderImage(data, codec.sniff(data)) for data in map(codec.decode_base64_image, found)]
        sent = {k: v for k, v in body.items() if k not in ("prompt", "negative_prompt", "init_images", "mask")}
        return ProviderResult(
            images=result_images,
            model=title,
            provider=self.name,
            cost_usd=0.0,
            surface="local",
            metadata={"operation": op, "endpoint": route, "family": family.name, "sent": sent, "info": info},
        )

    async def _upscale(self, request: ProviderRequest, call: Call) -> ProviderResult:
        scale = int(request.options.get("scale") or 2)
        mode = str(request.options.get("mode") or "fast")
        if scale not in (2, 4):
            raise e.BadRequestError(f"scale must be 2 or 4 (got {scale}); nothing was sent", "pass scale=2 or 4")
        if mode == "creative":
            raise e.BadRequestError(
                "a1111 upscales with the server's upscalers (modes fast and conservative), not mode 'creative'; "
                "nothing was sent",
                "use mode='fast' or 'conservative', or pin a provider with creative upscaling",
            )
        listed = [u["name"] for u in await self._get_list("/sdapi/v1/upscalers") if isinstance(u.get("name"), str)]
        upscaler = request.model if request.model not in ("", DEFAULT) else wire.pick_upscaler(mode, listed)
        if upscaler is None or upscaler not in listed:
            raise e.ModelNotFoundError(
                f"upscaler {upscaler!r} is not one the AUTOMATIC1111 server lists (nothing was sent)",
                f"use one of: {', '.join(listed[:10]) or 'none installed'} (model=…), or leave model unset",
            )
        image = (await input_bytes(self.http, request.input_images[0], provider=self.name)).data
        answer = await self._blocking("/sdapi/v1/extra-single-image", wire.upscale_body(image, scale, upscaler),
                                      call, upscaler)  # fmt: skip
        raw = answer.get("image")
        if not isinstance(raw, str) or not raw:
            raise e.NoImageError("AUTOMATIC1111 answered the upscale with no image", "retry")
        data = codec.decode_base64_image(raw)
        return ProviderResult(
            images=[ProviderImage(data, codec.sniff(data))],
            model=upscaler,
            provider=self.name,
            cost_usd=0.0,
            surface="local",
            metadata={"operation": "upscale", "endpoint": "/sdapi/v1/extra-single-image", "upscaler": upscaler,
                      "scale": scale, "mode": mode},
        )  # fmt: skip

    async def _inputs(self, request: ProviderRequest) -> tuple[list[bytes], bytes | None, tuple[int, int] | None]:
        """The init image (outpaint: the grown canvas), the mask in A1111's form (= ours) and the size."""
        if not request.input_images:
            return [], None, None
        image = (await input_bytes(self.http, request.input_images[0], provider=self.name)).data
        mask = (await input_bytes(self.http, request.mask, provider=self.name)).data if request.mask else None
        return await anyio.to_thread.run_sync(_prepare, request, image, mask)

    async def _blocking(self, route: str, body: dict[str, Any], call: Call, what: str) -> dict[str, Any]:
        """The blocking call, with ``/progress`` polled beside it; ``/interrupt`` if it does not finish."""
        finished = False
        try:
            async with anyio.create_task_group() as tg:
                if call.progress is not None:
                    tg.start_soon(self._watch, call.progress, what)
                reply = await self._send("POST", route, json=body)
                finished = True
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise e.first_error(group) from None
        finally:
            if not finished:
                # Best effort (the server may be gone already); shielded so it is sent while being cancelled.
                with anyio.CancelScope(shield=True), anyio.move_on_after(10), contextlib.suppress(e.ProviderError):
                    await self._send("POST", "/sdapi/v1/interrupt", json={})
        data = json_of(reply)
        if reply.status_code != 200 or not isinstance(data, dict):
            if reply.status_code == 200:
                raise e.InvalidResponseError(f"AUTOMATIC1111 answered {route} with something that is not JSON",
                                             f"check {BASE_VARIABLE} (it must be the web UI's root URL)")  # fmt: skip
            raise wire.map_error(reply.status_code, data, base_url=self._base, model=what)
        return data

    async def _watch(self, progress: ProgressFn, what: str) -> None:
        """Report ``/sdapi/v1/progress`` until cancelled (the blocking call finished) or the deadline."""

        async def check() -> PollStatus[None]:
            try:
                reply = await self._send("GET", "/sdapi/v1/progress?skip_current_image=true")
            except e.ProviderError:
                return PollStatus(done=False)
            data = json_of(reply)
            if reply.status_code != 200 or not isinstance(data, dict):
                return PollStatus(done=False)
            return PollStatus(done=False, message=_progress_text(data, what), fraction=_fraction(data))

        await poll(check, label=f"AUTOMATIC1111 ({what})", deadline_s=self.timeout_s, progress=progress,
                   interval_s=self.progress_interval_s, max_interval_s=max(1.0, self.progress_interval_s),
                   growth=1.0)  # fmt: skip

    async def _send(self, method: str, path: str, **kw: Any) -> Reply:
        auth = _basic(self._auth)
        try:
            return await send(self.http, self._endpoint, method, f"{self._base}{path}", auth=auth, **kw)
        except e.ConnectionFailedError as exc:
            exc.fix = f"{wire.START}, and set {BASE_VARIABLE} to its address (now {self._base})"
            raise

    # ------------------------------------------------------------------ models

    async def _get_list(self, path: str) -> list[Mapping[str, Any]]:
        reply = await self._send("GET", path)
        data = json_of(reply)
        if reply.status_code != 200:
            raise wire.map_error(reply.status_code, data, base_url=self._base, model="")
        if not isinstance(data, list):
            raise e.InvalidResponseError(f"AUTOMATIC1111 answered {path} with no list",
                                         f"check {BASE_VARIABLE} (it must be the web UI's root URL)")  # fmt: skip
        return [item for item in data if isinstance(item, dict)]

    async def _checkpoint(self, model: str) -> tuple[str | None, str]:
        """``(override, title)``: the checkpoint to switch to (None: keep the loaded one) and its title."""
        if model in ("", DEFAULT):
            reply = await self._send("GET", "/sdapi/v1/options")
            data = json_of(reply)
            if reply.status_code != 200:
                raise wire.map_error(reply.status_code, data, base_url=self._base, model="")
            loaded = data.get("sd_model_checkpoint") if isinstance(data, dict) else None
            return None, loaded if isinstance(loaded, str) and loaded else DEFAULT
        listed = await self._get_list("/sdapi/v1/sd-models")
        for item in listed:
            names = {str(item.get(k) or "") for k in ("title", "model_name")}
            names.add(str(item.get("filename") or "").replace("\\", "/").rsplit("/", 1)[-1])
            names.add(str(item.get("title") or "").split(" [")[0])
            if model in names:
                title = str(item.get("title") or model)
                return title, title
        titles = [str(i.get("title")) for i in listed[:8]]
        raise e.ModelNotFoundError(
            f"checkpoint {model!r} is not on the AUTOMATIC1111 server (nothing was sent)",
            f"use one it lists: {', '.join(titles) or 'none installed'}; or leave model unset for the loaded one",
        )

    async def models(self) -> list[ModelInfo]:
        found = [ModelInfo(DEFAULT, frozenset(OPERATIONS), "the checkpoint the server has loaded")]
        try:
            checkpoints = await self._get_list("/sdapi/v1/sd-models")
            upscalers = await self._get_list("/sdapi/v1/upscalers")
        except e.ProviderError:
            return found
        ops = frozenset(op for op in OPERATIONS if op != "upscale")
        found += [ModelInfo(str(c.get("title")), ops, family_of(str(c.get("title"))).name) for c in checkpoints]
        found += [ModelInfo(str(u.get("name")), frozenset({"upscale"}), "upscaler") for u in upscalers
                  if u.get("name") not in ("None", None)]  # fmt: skip
        return found

    async def knows_model(self, model: str) -> bool:
        if model == DEFAULT:
            return True
        try:
            await self._checkpoint(model)
        except e.ProviderError:
            return any(m.id == model for m in await self.models())
        return True

    # ------------------------------------------------------------------ preflight

    async def check(self, model: str | None) -> list[PreflightCheck]:
        if not self._base:
            return [PreflightCheck(name="base_url", ok=False, detail=f"{BASE_VARIABLE} is not set",
                                   fix=f"{wire.START}; then export {BASE_VARIABLE}=http://127.0.0.1:7860")]  # fmt: skip
        if self._auth is not None and ":" not in self._auth:
            return [PreflightCheck(name="auth", ok=False, detail=f"{AUTH_VARIABLE} is not user:pass",
                                   fix=f"export {AUTH_VARIABLE}=user:pass (as given to --api-auth)")]  # fmt: skip
        try:
            checkpoints = await self._get_list("/sdapi/v1/sd-models")
            upscalers = [str(u.get("name")) for u in await self._get_list("/sdapi/v1/upscalers")]
        except e.ProviderError as exc:
            return [PreflightCheck(name="server_reachable", ok=False, detail=exc.message, fix=exc.fix)]
        titles = [str(c.get("title")) for c in checkpoints]
        checks = [
            PreflightCheck(name="server_reachable", ok=True, detail=f"AUTOMATIC1111 answers at {self._base}"),
            PreflightCheck(
                name="checkpoints", ok=bool(titles),
                detail=f"{len(titles)} checkpoints: {', '.join(titles[:8])}" if titles else "no checkpoint installed",
                fix=None if titles else "put a .safetensors checkpoint in models/Stable-diffusion and restart the UI",
            ),
            PreflightCheck(name="upscalers", ok=True,
                           detail=f"upscalers: {', '.join(u for u in upscalers if u != 'None')[:300]}"),
        ]  # fmt: skip
        if model and model != DEFAULT:
            try:
                await self._checkpoint(model)
            except e.ProviderError as exc:
                if model not in upscalers:
                    checks.append(PreflightCheck(name="model", ok=False, detail=exc.message, fix=exc.fix))
        return checks


def _basic(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep:
        raise e.ConfigError(f"{AUTH_VARIABLE} must be user:pass", f"export {AUTH_VARIABLE}=user:pass (as --api-auth)")
    return user, password


def _prepare(
    request: ProviderRequest, image: bytes, mask: bytes | None
) -> tuple[list[bytes], bytes | None, tuple[int, int]]:
    """Pillow work, in a thread: the outpaint canvas, or the mask normalised to the image's size."""
    if request.operation == "outpaint":
        canvas = masks.outpaint_canvas(image, masks.checked_expand(request.options.get("expand") or {}))
        return [_flat(canvas.image)], canvas.mask, (canvas.width, canvas.height)
    facts = codec.inspect(image, what="the input image", fix="pass a PNG, JPEG or WebP")
    normal = masks.normalize_mask(mask, facts.width, facts.height) if mask is not None else None
    return [image], normal, (facts.width, facts.height)


def _flat(rgba: bytes) -> bytes:
    """The canvas on mid grey: A1111 would flatten its transparent border to black, which the fill then copies."""
    from PIL import Image

    with Image.open(io.BytesIO(rgba)) as opened:
        picture = opened.convert("RGBA")
    flat = Image.new("RGB", picture.size, (127, 127, 127))
    flat.paste(picture, (0, 0), picture)
    buf = io.BytesIO()
    flat.save(buf, "PNG")
    return buf.getvalue()


def _fraction(data: Mapping[str, Any]) -> float | None:
    value = data.get("progress")
    return float(value) if isinstance(value, int | float) else None


def _progress_text(data: Mapping[str, Any], what: str) -> str | None:
    state = data.get("state") if isinstance(data.get("state"), dict) else {}
    assert isinstance(state, dict)
    step, steps = state.get("sampling_step"), state.get("sampling_steps")
    fraction = _fraction(data)
    if fraction is None or not steps:
        return None
    eta = data.get("eta_relative")
    eta_text = f", about {eta:.0f} s left" if isinstance(eta, int | float) and eta > 0 else ""
    return f"{what}: step {step}/{steps} ({fraction * 100:.0f} %{eta_text})"
