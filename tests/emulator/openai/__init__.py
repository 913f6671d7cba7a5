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
  `models_route`, no `x-ratelimit-*` on success.
- `prefix` — where the API is mounted: `"/v1"` (default) or `""` (root). `emu.base_url` is
  `root_url + prefix`; a client given the bare host (`emu.root_url`) must add `/v1` itself (C1, G).
- `api_key` / `valid_keys` — Bearer keys that authenticate; anything else → 401 `invalid_api_key` (C1).
- `models` — the catalogue (`ModelSpec`s; default `DEFAULT_MODELS`, some with `shutdown_date`), served by
  `GET /models` as the list envelope (C7); a `retired=True` spec → 404 `model_not_found`.
- `models_route` — `"images"` (the catalogue, OpenAI mode default), `"unfiltered"` (catalogue plus chat
  models, no image flag; gateway default) or `"missing"` (404) (G).
- `prompt_limit` — overrides the per-model limits (32000 GPT image / 4000 dall-e-3 / 1000 dall-e-2) (C3, G).
- `error_style` — `"openai"` `{"error":{"message","type","param","code"}}` (default), `"code_msg"`
  `{"code": <status>, "msg": "...", "data": null}` (Chinese aggregator gateways) or `"string"`
  `{"error": "..."}` (Ollama-style proxies) (G).
- `url_lifetime_s` — how long `data[].url` stays downloadable (default 3600, as DALL·E); afterwards the
  URL answers 403 like an expired signed blob URL, unknown files 404 (C2).
- `latency_s` — delay before each image answer (the wait notices a client disconnect).

Faults (`emu.fault(kind | Fault, times=1, path=None, **options)`; `times=None` = until `clear_faults()`;
`path` such as `"/images/edits"` targets one endpoint, default any image POST): `rate_limit` (429 +
`x-ratelimit-*`, `retry-after`, `retry-after-ms`), `insufficient_quota` (429), `no_credits` (402),
`server_error` (`status` 500/502/503), `moderation` (400 `moderation_blocked` + `moderation_details` for
GPT image, `content_policy_violation` for DALL·E), `model_not_found` (404), `expired_url` (success whose
URLs are already dead), `hang` (no answer until the client disconnects; recorded as `cancelled`),
`truncated` (200 with half the JSON), `html` (200 `text/html` page) — C6.
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
