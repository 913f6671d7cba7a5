"""Loopback AUTOMATIC1111 web UI API emulator (``reference/providers.md`` §6a): a real uvicorn server on
127.0.0.1 in a background thread.

Faithful to the checklist: bare base64 in and out; ``info`` is a JSON *string*; every generation is a
blocking 200 answered when the job is done; jobs are serialized by one lock (a second request waits);
``GET /sdapi/v1/progress`` reports the running job (step, fraction, eta) while the blocking call is
open; ``POST /sdapi/v1/interrupt`` ends the running job early (it answers with what it has) — and a
client hanging up does *not* stop a job, as in the real server. Errors use the ``{"error", "detail",
"body", "errors"}`` envelope (404 "Model not found" for an unknown ``override_settings`` checkpoint,
404 "Sampler not found", 500 "Invalid encoded image", 400 for an unknown upscaler) and FastAPI's 422
``{"detail": [...]}`` for wrong types. ``auth="user:pass"`` emulates ``--api-auth`` (401 "Incorrect
username or password"). Knobs: ``step_s`` (seconds per sampling step), ``checkpoints``, ``upscalers``.
Every request is in ``emu.requests`` (``emu.interrupts`` counts interrupts); ``emu.wait_for_job()``
blocks until a job is running.
"""

from .server import A1111Emulator

__all__ = ["A1111Emulator"]
