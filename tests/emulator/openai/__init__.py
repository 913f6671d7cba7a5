"""Loopback OpenAI Images API emulator (and an OpenAI-compatible gateway mode): a real uvicorn server on
127.0.0.1 in a background thread, spec'd by `/work/shared/reference/providers.md` §1.

Usage (the Python API is meant to stay stable; provider clients are written against it)::

    from tests.emulator.openai import Fault, OpenAIEmulator

    with OpenAIEmulator() as emu:                        # OpenAI mode: emu.base_url == http://127.0.0.1:PORT/v1
        client = httpx2.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"})
        r = client.post("/images/generations", json={"model": "gpt-image-1", "prompt": "a fox", "size": "1024x1536"})
        png = base64.b64decode(r.json()["data"][0]["b64_json"])      # real PNG, 1024×1536, deterministic bytes
        emu.fault("rate_limit", retry_after=2)                         # next image request → 429 + headers
        emu.fault(Fault("hang", path="/images/edits"))                 # next edit never answers...
        emu.wait_for_cancelled()                                       # ...until the client hangs up
        emu.requests[-1].parts                                         # uploaded multipart parts (name, sha256, size)
        emu.reset()                                                    # forget requests and faults

    with OpenAIEmulator(gateway=True, prefix="", models_route="missing", error_style="string") as gw:
        ...  # gw.base_url == gw.root_url (served at the root); GPT-image answers are data[].url

Constructor switches (`OpenAIEmulator(gateway=False, prefix="/v1", *, ...)`); the most are also runtime
knobs (`emu.url_lifetime_s = 0`) and `POST /_emulator/config` keys. Checklist lines refer to §1's
**Emulator checklist** (C1..C7) and its "gateways differ" paragraph (G):

- `gateway` — OpenAI-compatible gateway behaviour (G): `data[].url` by default for every model, the
  gateway `error_style` envelope, `prompt_limit` (default 1000) for every model, `/models` per
  `models_route`, unknown parameters ignored, no `x-ratelimit-*` / `openai-*` headers.
- `prefix` — where the API is mounted: `"/v1"` (default) or `""` (root). `emu.base_url` is
  `root_url + prefix`; a client given the bare host (`emu.root_url`) must add `/v1` itself (C1, G).
- `api_key` / `valid_keys` — Bearer keys that authenticate; anything else → 401 `invalid_api_key` (C1).
- `models` — the catalogue (`ModelSpec`s; default `DEFAULT_MODELS`, some with `shutdown_date`), served by
  `GET /models` as the list envelope (C7); a `retired=True` spec → 404 `model_not_found`.
- `models_route` — `"images"` (the catalogue, OpenAI mode default), `"unfiltered"` (catalogue plus chat
  models, no image flag; gateway default) or `"missing"` (404) (G).
- `prompt_limit` — overrides the per-model limits (32000 GPT image / 4000 dall-e-3 / 1000 dall-e-2) (C3, G).
- `error_style` — `"openai"` `{"error":{"message","type","param","code"}}` (default), `"code_msg"`
  `{"code": <status>, "msg": "...", "data": null}` (the `code`/`msg` envelope of Chinese aggregator
  gateways; gateway default) or `"string"` `{"error": "..."}` (Ollama's native shape, common in small
  proxies). Both gateway shapes are third-party observations, not a spec (G).
- `url_lifetime_s` — how long `data[].url` stays downloadable (default 3600, as DALL·E); afterwards the
  URL answers 403 like an expired signed blob URL, unknown files 404 (C2).
- `edits_route` — `"present"` (default) or `"missing"`: a gateway without `/images/edits` (404) (G).
- `latency_s` — delay before each image answer (the wait notices a client disconnect).

Faults (`emu.fault(kind | Fault, times=1, path=None, **options)`; `times=None` = until `clear_faults()`;
`path` such as `"/images/edits"` or `"/models"` targets one endpoint, default any image POST). They are
taken after auth and validation, so a faulted request is a valid one whose uploads are already logged (C6):

- `rate_limit` — 429 `rate_limit_exceeded` + `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`,
  `retry-after`, `retry-after-ms` (`retry_after=`, default 1 s).
- `insufficient_quota` — 429 `insufficient_quota`; `no_credits` — 402 (what gateways use for no credits).
- `server_error` — `status=` 500 (default), 502 or 503; `retry_after=` adds the retry headers.
- `moderation` — 400 `moderation_blocked` + `moderation_details` (`stage=` input/output) for GPT image,
  400 `content_policy_violation` for DALL·E.
- `model_not_found` — 404; `expired_url` — a success whose URLs are already dead (403).
- `hang` — no answer until the client disconnects; the request ends `cancelled` in `emu.cancelled`
  (`emu.wait_for_cancelled()`), which proves a cancel stopped the upstream call.
- `truncated` — 200 with the first half of the JSON; `html` — 200 `text/html` sign-in page.
- `checkerboard` — a success whose `background=transparent` images are opaque, with a transparency
  checkerboard painted in (the fake transparency some models make; the saved bytes have no alpha).

What else a test can lean on:

- Every answer has `x-request-id` (also in `rec.request_id`); OpenAI mode adds `openai-version`,
  `openai-processing-ms`, and `x-ratelimit-*` on success (C1).
- Generations (C2, C3, C5): GPT image answers `b64_json` only, with `usage` (input/output tokens and
  details) and top-level `background/output_format/quality/size` (`quality=auto` reports `high`,
  `size=auto` 1024x1024, or the first input image's shape for edits); DALL·E answers `url` by default
  (`b64_json` with `response_format`), dall-e-3 adds `revised_prompt`. Images are real PNG/JPEG/WebP of
  the requested pixel size, RGBA with a transparent border for `background=transparent`, and the same
  request always gives the same bytes. A missing `model` means dall-e-2 (gpt-image-1 when a GPT-only
  parameter is sent; gpt-image-1.5 for edits). OpenAI mode refuses unknown or other-family parameters
  with 400 `unknown_parameter`; `stream=true` is refused (SSE is not emulated — checklist C5's stream
  half is not covered).
- Edits (C4): multipart only; one `image` part or repeated `image[]` parts (≤16 png/webp/jpeg < 50 MB;
  dall-e-2: one square PNG < 4 MB), optional `mask` (PNG < 4 MB with alpha, same size as the first
  image, else 400 naming what is wrong), `input_fidelity` (not on gpt-image-1-mini). Every file part is
  in `rec.parts` (`UploadedPart`: name, filename, content_type, size, sha256, format, width, height,
  mode, transparent_pixels — a mask's polarity) and text fields in `rec.fields`. gpt-image-2 refuses
  `input_fidelity` and `background=transparent` (400); the gpt-image-2.5 pair makes transparent images.
  Variations (C7): dall-e-2 only, one square PNG < 4 MB.
- URLs: `ROOT/files/img-….png?se=…&sp=r&sig=…`, no auth; `emu.advance_clock(s)` moves expiry time
  without sleeping; an expired URL answers 403 `AuthenticationFailed` XML, an unknown one 404.
- Keys: no body ever echoes the Authorization header; the HTTP request log redacts it.
- Control surface (no auth, at the root): `POST /_emulator/faults` `{"fault": {...}, "times": N|null}` or
  `{"clear": true}`; `GET /_emulator/requests`; `POST /_emulator/config` (`latency_s`, `url_lifetime_s`,
  `prompt_limit`, `models_route`, `error_style`, `clock_offset_s`); `POST /_emulator/reset`.
- By hand: `python -m tests.emulator.openai --port 8124 [--gateway] [--prefix ''] [--error-style …]`.
"""

from .catalogue import CHAT_MODELS, DEFAULT_MODELS, ModelSpec
from .faults import KINDS, Fault
from .server import OpenAIEmulator
from .state import DEFAULT_KEY, RecordedRequest, UploadedPart

__all__ = [
    "CHAT_MODELS",
    "DEFAULT_KEY",
    "DEFAULT_MODELS",
    "KINDS",
    "Fault",
    "ModelSpec",
    "OpenAIEmulator",
    "RecordedRequest",
    "UploadedPart",
]
