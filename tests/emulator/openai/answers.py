"""Success bodies: `b64_json` or same-origin `url` items, GPT `usage` and top-level fields, and the
signed, expiring download URLs DALL·E (and gateways) hand out.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from .params import Job
from .pictures import media_type, render
from .state import EmulatorState, StoredFile

# gpt-image-1 output tokens per image at 1024x1024 and at 1536x1024 (providers.md pricing table basis).
OUTPUT_TOKENS = {"low": (272, 408), "medium": (1056, 1584), "high": (4160, 6240)}
IMAGE_INPUT_TOKENS = {"low": 194, "high": 1290}


def images_for(job: Job, seed: str, *, checkerboard: bool = False) -> list[bytes]:
    """The output images: deterministic for the same job and `seed` (edits seed with the input hashes).

    A transparent background has a real alpha channel, unless `checkerboard` paints one in instead."""
    key = f"{job.endpoint}:{job.prompt}:{seed}"
    transparent = job.background == "transparent"
    if transparent and checkerboard:
        from ..openrouter.images import render_background

        fmt = job.output_format
        return [render_background(key, job.width, job.height, fmt, i, "checkerboard") for i in range(job.n)]
    return [
        render(key, job.width, job.height, job.output_format, i, transparent, job.compression) for i in range(job.n)
    ]


def _usage(job: Job, n_inputs: int) -> dict[str, Any]:
    text = max(1, len(job.prompt) // 4)
    image_in = n_inputs * IMAGE_INPUT_TOKENS[job.input_fidelity or "low"]
    square, wide = OUTPUT_TOKENS.get(job.quality, OUTPUT_TOKENS["high"])
    per_image = square if job.width == job.height else wide
    if job.width * job.height > 1536 * 1024:
        per_image = round(wide * job.width * job.height / (1536 * 1024))
    out = per_image * job.n
    return {
        "input_tokens": text + image_in,
        "input_tokens_details": {"image_tokens": image_in, "text_tokens": text},
        "output_tokens": out,
        "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
        "total_tokens": text + image_in + out,
    }


def _store(state: EmulatorState, origin: str, data: bytes, fmt: str, *, expired: bool) -> str:
    """Keep `data` downloadable and return its URL, shaped like a signed blob URL (`se` = expiry)."""
    with state.cond:
        lifetime = state.url_lifetime_s
        serial = len(state.files)
    now = state.now()
    expires = now - 1 if expired else now + lifetime
    digest = hashlib.sha256(data).hexdigest()
    name = f"img-{digest[:20]}-{serial}.{'jpg' if fmt == 'jpeg' else fmt}"
    signature = hashlib.sha256(f"{name}:{expires}".encode()).hexdigest()[:32]
    state.store_file(name, StoredFile(data, media_type(fmt), expires, signature))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    return f"{origin}/files/{name}?se={stamp}&sp=r&sig={signature}"


def success_body(
    job: Job, images: list[bytes], state: EmulatorState, origin: str, *, n_inputs: int, expired_urls: bool
) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for blob in images:
        item: dict[str, Any] = {}
        if job.response_format == "url":
            item["url"] = _store(state, origin, blob, job.output_format, expired=expired_urls)
        else:
            item["b64_json"] = base64.b64encode(blob).decode("ascii")
        if job.spec.family == "dall-e-3":
            item["revised_prompt"] = f"{job.prompt} (rendered in a clear, detailed style)"
        data.append(item)
    body: dict[str, Any] = {"created": int(time.time())}
    if job.spec.is_gpt:
        body.update(
            background=job.background, output_format=job.output_format, quality=job.quality, size=job.size_label
        )
    body["data"] = data
    if job.spec.is_gpt:
        body["usage"] = _usage(job, n_inputs)
    return body
