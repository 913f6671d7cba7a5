"""Loopback fal.ai queue emulator: a real uvicorn server on 127.0.0.1 in a background thread, built
from `/work/shared/reference/providers.md` §4 and its emulator checklist (C1..C6).

    with FalEmulator() as emu:                  # FAL_QUEUE_URL = emu.queue_url, FAL_KEY = emu.api_key
        emu.fault("hold")                       # the next job stays IN_PROGRESS until cancelled
        emu.wait_for_cancel()                   # ...the client's PUT …/cancel arrived
        emu.submits()[-1].json                  # what the client sent

- Auth (C1): `Authorization: Key <api_key>`, else 401 `{"detail": …}`; the log shows `<redacted>`.
- Submit `POST /<endpoint id>` (C1): the endpoints of §4; answers `{status: IN_QUEUE, request_id,
  response_url, status_url, cancel_url, queue_position}` with absolute URLs under `<owner>/<alias>` —
  **the sub-path dropped**; a status/result/cancel URL that keeps it (`fal-ai/flux/dev/requests/…`) → 404.
  Validation → 422 `{"detail": [{"loc", "msg", "type"}]}` (a required input missing, output_format,
  strength, image_size, a fill mask of another size). The queue never 429s on concurrency (C6).
- Status `GET …/requests/{id}/status?logs=1` (C2): `IN_QUEUE` + integer `queue_position` counting down
  for `queue_polls` polls, `IN_PROGRESS` + `logs` for `progress_polls`, then `COMPLETED` + `logs` +
  `metrics`; every answer echoes the four ids/URLs.
- Result `GET …/requests/{id}` (C3, C5): before completion 400 `detail`; then the model's JSON (`images[]`
  with url/width/height/content_type, `seed`, `has_nsfw_concepts`, `timings`; upscalers a single `image`)
  and `x-fal-request-id`. Image URLs (`/files/<name>.jpg`) live `url_lifetime_s`, then 403.
- Cancel `PUT …/requests/{id}/cancel` (C4): 202 `CANCELLATION_REQUESTED` (the job ends; the request is in
  `emu.cancels()`), 400 `ALREADY_COMPLETED` once done.

Faults (`emu.fault(kind, times=1, **options)`; `times=None` = until `clear_faults()`):
submit — `rate_limit` (429), `no_credits` (402), `server_error` (500), `foreign_status` (`url=`: the
status_url points at another origin); job — `content_policy` (the result is 422
`content_policy_violation`), `nsfw` (every image flagged in `has_nsfw_concepts`), `hold` (IN_PROGRESS
until cancelled), `slow` (`polls=N` IN_QUEUE answers), `expired_result` (image URLs already dead),
`failed` (the result answers 500).
"""

from .server import DEFAULT_KEY, ENDPOINTS, FalEmulator, Job

__all__ = ["DEFAULT_KEY", "ENDPOINTS", "FalEmulator", "Job"]
