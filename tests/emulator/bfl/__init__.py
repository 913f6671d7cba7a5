"""Loopback Black Forest Labs (FLUX) API emulator: a real uvicorn server on 127.0.0.1 in a background
thread, built from `/work/shared/reference/providers.md` §3 and its emulator checklist (C1..C6).

    with BFLEmulator() as emu:                  # BFL_BASE_URL = emu.base_url, BFL_API_KEY = emu.api_key
        emu.fault("content_moderated")          # the next task ends "Content Moderated"
        emu.fault("slow", polls=4)              # the next task answers Pending 4 times (progress 0.2 … 0.8)
        emu.submits()[-1].json                  # what the client sent; emu.polls() the get_result calls

- Auth (C1): `x-key` must equal `api_key`, else 403 `{"detail": …}`; the log shows `<redacted>`.
- Submit `POST /v1/<endpoint>` (C5): the endpoints of §3; unknown → 404; validation → 422
  `{"detail": [{"loc", "msg", "type"}]}` (prompt missing, width/height not ÷32 in 256–1440 for pro 1.1,
  not ÷16 for FLUX.2, output_format not jpeg/png, fill without an image or with a mask of another size,
  expand sides outside 0–2048). Answers `{id, polling_url, cost, input_mp, output_mp}` (`cost` in credits,
  `send_cost=False` leaves it out). 429 beyond `active_limit` (24) active tasks, 6 for flux-kontext-max.
- `polling_url` is absolute and names **another host** (`localhost` instead of `127.0.0.1`: the same
  origin to a client that folds loopback spellings, a different host to one that rebuilds URLs) (C2).
- `GET /v1/get_result?id=` (C3, C4): always 200 with `status`: `Pending` (with `progress` rising) for
  `pending_polls` polls, then `Ready` (`result.sample`, `prompt`, `seed`), or the faulted final status;
  an unknown id → `Task not found`. Samples live `url_lifetime_s` (600 s) on `/delivery/<name>/…`; then 403
  (expired blob), unknown 404. Nothing in any answer echoes the key.
- No cancel endpoint (BFL documents none).

Faults (`emu.fault(kind, times=1, **options)`; `times=None` = until `clear_faults()`):
submit — `rate_limit` (429), `no_credits` (402), `server_error` (500), `bad_key_scope` (403);
task — `request_moderated`, `content_moderated`, `error` (with `details`), `task_not_found`,
`slow` (`polls=N`), `foreign_polling` / `foreign_result` (`url=` another origin: the polling_url or the
sample points there), `expired_result` (the sample is already dead when handed out).
"""

from .server import DEFAULT_KEY, ENDPOINTS, BFLEmulator, Task

__all__ = ["DEFAULT_KEY", "ENDPOINTS", "BFLEmulator", "Task"]
