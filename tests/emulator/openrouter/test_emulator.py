"""Self-tests for the loopback OpenRouter emulator, over real HTTP with httpx2."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from PIL import Image

from . import Emulator, Fault, ModelSpec

GEMINI = "google/gemini-2.5-flash-image"
GPT_IMAGE = "openai/gpt-image-1"
SEEDREAM = "bytedance-seed/seedream-4.5"
FLUX = "black-forest-labs/flux.2-pro"
GEN_ID = re.compile(r"^gen-\d+-[A-Za-z0-9]{20}$")
PNG_1PX = base64.b64encode(
    base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
).decode()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(generation_lookup_delay_s=0.3) as e:
        yield e


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx2.Client]:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    with httpx2.Client(base_url=emu.base_url, headers=headers, timeout=10.0) as c:
        yield c


def chat(client: httpx2.Client, model: str = GEMINI, **extra: Any) -> httpx2.Response:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "a red fox"}],
        "modalities": ["image", "text"],
    }
    return client.post("/chat/completions", json={**body, **extra})


def images(client: httpx2.Client, model: str = GPT_IMAGE, **extra: Any) -> httpx2.Response:
    return client.post("/images", json={"model": model, "prompt": "a red fox", **extra})


def chat_image_bytes(body: dict[str, Any], i: int = 0) -> bytes:
    url = body["choices"][0]["message"]["images"][i]["image_url"]["url"]
    return base64.b64decode(url.split(",", 1)[1])


def sse_lines(resp: httpx2.Response) -> list[str]:
    return [line for line in resp.iter_lines() if line]


def data_events(lines: list[str]) -> list[Any]:
    return [json.loads(ln[6:]) if ln != "data: [DONE]" else "[DONE]" for ln in lines if ln.startswith("data: ")]


# --- chat success ---------------------------------------------------------------------------------


def test_chat_success_body_matches_capture(emu: Emulator, client: httpx2.Client) -> None:
    resp = chat(client, image_config={"aspect_ratio": "16:9"})
    assert resp.status_code == 200
    body = resp.json()
    assert GEN_ID.match(body["id"]) and resp.headers["x-generation-id"] == body["id"]
    assert list(body)[:5] == ["id", "provider", "model", "object", "created"]
    assert body["provider"] == "Google AI Studio" and body["object"] == "chat.completion"
    assert body["system_fingerprint"] is None and body["service_tier"] == "default"
    choice = body["choices"][0]
    assert choice["logprobs"] is None and choice["finish_reason"] == "stop"
    assert choice["native_finish_reason"] == "STOP"
    msg = choice["message"]
    assert msg["content"] == "" and msg["refusal"] is None and msg["reasoning"] is None
    entry = msg["images"][0]
    assert entry["type"] == "image_url" and entry["index"] == 0
    assert entry["image_url"]["url"].startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(chat_image_bytes(body))).size == (84, 48)  # 1344x768 / 16
    usage = body["usage"]
    assert usage["cost"] > 0 and usage["completion_tokens_details"]["image_tokens"] == 1290
    assert set(usage["cost_details"]) == {
        "upstream_inference_cost",
        "upstream_inference_prompt_cost",
        "upstream_inference_completions_cost",
    }
    assert emu.generation_count() == 1 and emu.generation_count(prompt="a red fox") == 1
    assert emu.generation_count(prompt="other") == 0


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("jpeg", lambda b: chat_image_bytes(b).startswith(b"\xff\xd8\xff")),
        ("webp", lambda b: chat_image_bytes(b)[8:12] == b"WEBP"),
        ("two_images", lambda b: len(b["choices"][0]["message"]["images"]) == 2),
        ("text_and_image", lambda b: b["choices"][0]["message"]["content"].startswith("Here is")),
        ("large", lambda b: len(b["choices"][0]["message"]["images"][0]["image_url"]["url"]) >= 1_500_000),
        ("omit_system_fingerprint", lambda b: "system_fingerprint" not in b),
        ("image_as_string", lambda b: b["choices"][0]["message"]["images"][0].startswith("data:image/png")),
    ],
)
def test_chat_success_variants(emu: Emulator, client: httpx2.Client, kind: str, check: Any) -> None:
    emu.push_fault(Fault(kind))
    resp = chat(client)
    assert resp.status_code == 200 and check(resp.json())
    assert emu.generation_count() == 1


def test_size_fault_gives_exact_pixels(emu: Emulator, client: httpx2.Client) -> None:
    emu.push_fault(Fault("size", width=300, height=200))
    assert Image.open(io.BytesIO(chat_image_bytes(chat(client).json()))).size == (300, 200)
    emu.push_fault(Fault("size", width=4096, height=4096))
    data = base64.b64decode(images(client).json()["data"][0]["b64_json"])
    assert Image.open(io.BytesIO(data)).size == (4096, 4096) and len(data) > 2_000_000


@pytest.mark.parametrize(
    ("kind", "finish", "native", "has_text"),
    [
        ("no_image_safety", "stop", "IMAGE_SAFETY", False),
        ("no_image_prohibited", "content_filter", "IMAGE_PROHIBITED_CONTENT", False),
        ("text_refusal", "stop", "STOP", True),
    ],
)
def test_no_image_is_billed(
    emu: Emulator, client: httpx2.Client, kind: str, finish: str, native: str, has_text: bool
) -> None:
    emu.push_fault(Fault(kind))
    body = chat(client).json()
    choice = body["choices"][0]
    assert "images" not in choice["message"] and body["usage"]["cost"] > 0
    assert (choice["finish_reason"], choice["native_finish_reason"]) == (finish, native)
    assert bool(choice["message"]["content"]) is has_text
    emu.push_fault(Fault(kind))
    img_body = images(client).json()
    assert img_body["data"] == [] and img_body["usage"]["cost"] > 0
    assert emu.generation_count() == 0 and [r.outcome for r in emu.requests] == ["no_image", "no_image"]


def test_chat_modality_and_surface_errors(client: httpx2.Client) -> None:
    resp = chat(client, model=FLUX)
    assert resp.status_code == 404
    err = resp.json()["error"]
    assert err["message"].endswith("output modalities: image, text")
    assert err["metadata"]["routing_funnel"] and "user_id" in resp.json()
    assert chat(client, model=GPT_IMAGE).status_code == 404
    assert chat(client, model=FLUX, modalities=["image"]).status_code == 200
    bad = chat(client, model="acme/fake-1.0")
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "acme/fake-1.0 is not a valid model ID"
    text_only = chat(client, modalities=["text"]).json()["choices"][0]["message"]
    assert "images" not in text_only and text_only["content"]


def test_chat_input_images_and_attribution_recorded(emu: Emulator, client: httpx2.Client) -> None:
    raw = base64.b64decode(PNG_1PX)
    content = [
        {"type": "text", "text": "edit this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
    ]
    headers = {"HTTP-Referer": "https://example.test", "X-OpenRouter-Title": "imagegen-mcp"}
    resp = client.post(
        "/chat/completions",
        json={
            "model": GEMINI,
            "messages": [{"role": "user", "content": content}],
            "modalities": ["image", "text"],
        },
        headers=headers,
    )
    assert resp.status_code == 200
    rec = emu.requests[-1]
    assert rec.input_images == [raw] and rec.prompt == "edit this"
    assert rec.referer == "https://example.test" and rec.title == "imagegen-mcp"
    refs = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}}]
    assert images(client, input_references=refs).status_code == 200
    assert emu.requests[-1].input_images == [raw]


# --- streaming ------------------------------------------------------------------------------------


def test_chat_stream_frame_order(emu: Emulator, client: httpx2.Client) -> None:
    emu.push_fault(Fault("large"))
    with client.stream("POST", "/chat/completions", json={**_chat_body(), "stream": True}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        gen_id = resp.headers["x-generation-id"]
        lines = sse_lines(resp)
    assert lines[0] == ": OPENROUTER PROCESSING"
    assert lines[-1] == "data: [DONE]"
    events = data_events(lines)
    text, image, finish, usage = events[:4]
    assert text["object"] == "chat.completion.chunk" and text["id"] == gen_id
    assert text["choices"][0]["delta"]["role"] == "assistant"
    big = next(ln for ln in lines if '"images"' in ln)
    assert len(big) >= 1_500_000 and image["choices"][0]["delta"]["images"][0]["type"] == "image_url"
    assert finish["choices"][0]["finish_reason"] == "stop" and "usage" not in finish
    assert usage["usage"]["cost"] > 0 and usage["choices"][0]["finish_reason"] is None
    assert emu.generation_count() == 1 and emu.requests[-1].stream


def _chat_body() -> dict[str, Any]:
    return {
        "model": GEMINI,
        "messages": [{"role": "user", "content": "a red fox"}],
        "modalities": ["image", "text"],
    }


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault("stream_error"), 502), (Fault("stream_error", string_code=True), "server_error")],
)
def test_chat_mid_stream_error(emu: Emulator, client: httpx2.Client, fault: Fault, code: int | str) -> None:
    emu.push_fault(fault)
    with client.stream("POST", "/chat/completions", json={**_chat_body(), "stream": True}) as resp:
        assert resp.status_code == 200
        events = data_events(sse_lines(resp))
    last = events[-1]
    assert last["error"]["code"] == code and last["error"]["metadata"]["error_type"] == "provider_unavailable"
    assert last["choices"][0]["finish_reason"] == "error" and "[DONE]" not in events
    assert emu.generation_count() == 0


def test_images_stream(emu: Emulator, client: httpx2.Client) -> None:
    with client.stream("POST", "/images", json={"model": GPT_IMAGE, "prompt": "x", "stream": True}) as resp:
        assert resp.status_code == 200
        events = data_events(sse_lines(resp))
    types = [e["type"] if isinstance(e, dict) else e for e in events]
    assert types == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
        "[DONE]",
    ]
    assert events[2]["media_type"] == "image/png" and events[2]["usage"]["cost"] > 0
    # A model without supports_streaming ignores `stream` and buffers.
    buffered = images(client, model=SEEDREAM, stream=True)
    assert buffered.headers["content-type"] == "application/json" and buffered.json()["data"]
    emu.push_fault(Fault("stream_error"))
    with client.stream("POST", "/images", json={"model": GPT_IMAGE, "prompt": "x", "stream": True}) as resp:
        events = data_events(sse_lines(resp))
    assert events[-1] == {"type": "error", "error": {"message": "Generation failed", "code": "server_error"}}


# --- Image API ------------------------------------------------------------------------------------


def test_images_success_and_media_type(emu: Emulator, client: httpx2.Client) -> None:
    resp = images(client, n=2, aspect_ratio="16:9")
    assert resp.status_code == 200 and GEN_ID.match(resp.headers["x-generation-id"])
    body = resp.json()
    assert isinstance(body["created"], int) and len(body["data"]) == 2 and body["usage"]["cost"] == 0.08
    assert body["data"][0]["media_type"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"]))).size == (64, 36)
    emu.push_fault(Fault("no_media_type"))
    assert "media_type" not in images(client).json()["data"][0]
    jpeg = images(client, output_format="jpeg").json()["data"][0]
    assert jpeg["media_type"] == "image/jpeg" and base64.b64decode(jpeg["b64_json"])[:3] == b"\xff\xd8\xff"
    assert emu.generation_count() == 3


@pytest.mark.parametrize(
    ("extra", "status", "text"),
    [
        ({"n": "2"}, 400, "Invalid request parameters"),
        ({"n": 2, "model": SEEDREAM}, 400, "does not support n > 1"),
        ({"size": "2048x2048", "aspect_ratio": "16:9"}, 400, "conflicts with aspect_ratio"),
        ({"size": "2048x2048", "resolution": "1K"}, 400, "conflicts with resolution"),
        ({"prompt": ""}, 400, "Invalid request parameters"),
        ({"model": "acme/fake-1.0"}, 400, "acme/fake-1.0 is not a valid model ID"),
        ({"model": GEMINI}, 400, "not available on the Image API"),
    ],
)
def test_images_validation(client: httpx2.Client, extra: dict[str, Any], status: int, text: str) -> None:
    resp = images(client, **extra)
    assert resp.status_code == status and text in resp.json()["error"]["message"]
    assert "user_id" in resp.json()


def test_images_wrong_endpoint_is_availability_form(client: httpx2.Client) -> None:
    err = images(client, model=GEMINI).json()["error"]
    assert "code" not in err and err["http_status"] == 400
    assert err["availability"]["code"] == "wrong_endpoint"
    assert images(client, size="2048x1152", aspect_ratio="16:9", resolution="2K").status_code == 200


# --- errors ---------------------------------------------------------------------------------------

STATUS_TEXT = {
    400: "Invalid request parameters",
    401: "User not found.",
    402: "Insufficient credits",
    403: "Request blocked",
    404: "No endpoints found",
    408: "Operation timed out",
    413: "Request payload too large",
    422: "Invalid argument",
    429: "Rate limit exceeded",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "Service temporarily unavailable",
    524: "Request timed out",
    529: "Provider returned error",
}


@pytest.mark.parametrize("status", sorted(STATUS_TEXT))
def test_http_fault_statuses(emu: Emulator, client: httpx2.Client, status: int) -> None:
    emu.push_fault(Fault("http", status=status))
    resp = chat(client)
    assert resp.status_code == status
    body = resp.json()
    assert list(body["error"])[:2] == ["message", "code"] and body["error"]["code"] == status
    assert body["error"]["message"].startswith(STATUS_TEXT[status]) and body["user_id"].startswith("user_")
    if status in (502, 529):
        assert body["error"]["metadata"]["provider_name"] == "Google AI Studio"
    assert "retry-after" not in resp.headers
    assert chat(client).status_code == 200  # times=1, then normal


def test_http_fault_variants(emu: Emulator, client: httpx2.Client) -> None:
    emu.push_fault(Fault("http", status=429, retry_after=3))
    resp = chat(client)
    assert resp.headers["retry-after"] == "3" and "x-ratelimit-limit" not in resp.headers

    emu.push_fault(Fault("http", variant="platform"))
    resp = chat(client)
    assert resp.status_code == 429 and resp.headers["x-ratelimit-remaining"] == "0"
    assert int(resp.headers["x-ratelimit-reset"]) > time.time() * 1000

    emu.push_fault(Fault("http", variant="upstream"))
    meta = chat(client).json()["error"]["metadata"]
    assert "rate-limited upstream" in meta["raw"] and meta["limit_source"] == "upstream_provider_shared_pool"

    emu.push_fault(Fault("http", status=503, variant="availability", retry_after=40))
    resp = chat(client)
    err = resp.json()["error"]
    assert resp.status_code == 503 and resp.headers["retry-after"] == "40" and "code" not in err
    assert err["http_status"] == 503 and err["availability"]["retry_after"] == 40
    assert err["availability"]["retryable"] is True

    emu.push_fault(Fault("http", status=429, variant="availability"))
    assert chat(client).json()["error"]["availability"]["code"] == "capacity_exhausted"

    emu.push_fault(Fault("http", variant="moderation"))
    resp = chat(client)
    meta = resp.json()["error"]["metadata"]
    assert resp.status_code == 403 and meta["reasons"] == ["violence"] and meta["flagged_input"] == "a red fox"
    assert meta["model_slug"] == GEMINI

    emu.push_fault(Fault("http", variant="credits_max_tokens"))
    resp = chat(client)
    assert resp.status_code == 402 and "fewer max_tokens" in resp.json()["error"]["message"]

    emu.push_fault(Fault("http", status=500, variant="string_code"))
    assert chat(client).json()["error"]["code"] == "server_error"


def test_in_band_errors(emu: Emulator, client: httpx2.Client) -> None:
    emu.push_fault(Fault("error_200"))
    resp = chat(client)
    assert resp.status_code == 200 and resp.json()["error"]["code"] == 429 and "user_id" in resp.json()
    assert "raw" in resp.json()["error"]["metadata"]

    emu.push_fault(Fault("choice_error"))
    resp = chat(client)
    choice = resp.json()["choices"][0]
    assert resp.status_code == 200 and choice["finish_reason"] == "error"
    assert choice["error"] == {
        "code": 502,
        "message": "Provider disconnected mid-stream",
        "metadata": {"error_type": "provider_unavailable"},
    }
    emu.push_fault(Fault("choice_error"))
    assert images(client).status_code == 502  # a failed Image API generation
    assert emu.generation_count() == 0 and emu.usage_usd == 0


def test_set_fault_until_cleared(emu: Emulator, client: httpx2.Client) -> None:
    emu.set_fault(Fault("http", status=500))
    emu.push_fault(Fault("http", status=502), times=2)
    assert [chat(client).status_code for _ in range(4)] == [502, 502, 500, 500]
    emu.clear_faults()
    assert chat(client).status_code == 200


def test_reset_is_a_transport_error(emu: Emulator, client: httpx2.Client) -> None:
    emu.push_fault(Fault("reset"))
    with pytest.raises(httpx2.TransportError):
        chat(client)
    assert emu.requests[-1].outcome == "reset"
    assert chat(client).status_code == 200
    emu.push_fault(Fault("reset", mid_stream=True))
    with (
        pytest.raises(httpx2.TransportError),
        client.stream("POST", "/chat/completions", json={**_chat_body(), "stream": True}) as resp,
    ):
        sse_lines(resp)


def test_hang_and_client_timeout_are_recorded_as_cancelled(emu: Emulator, client: httpx2.Client) -> None:
    emu.push_fault(Fault("hang"))
    with pytest.raises(httpx2.ReadTimeout):
        client.post("/chat/completions", json=_chat_body(), timeout=0.3)
    cancelled = emu.wait_for_cancelled(1, timeout=3)
    assert cancelled[0].path.endswith("/chat/completions") and cancelled[0].outcome == "cancelled"

    emu.latency_s = 5.0
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        client.post("/images", json={"model": GPT_IMAGE, "prompt": "slow"}, timeout=0.3)
    emu.wait_for_cancelled(2, timeout=3)
    assert time.monotonic() - started < 2 and emu.generation_count() == 0


def test_latency_delays_answer(emu: Emulator, client: httpx2.Client) -> None:
    emu.latency_s = 0.3
    started = time.monotonic()
    assert chat(client).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_wait_for_request_blocks_until_arrival(emu: Emulator, client: httpx2.Client) -> None:
    with pytest.raises(TimeoutError):
        emu.wait_for_request("/images", timeout=0.05)
    images(client)
    assert emu.wait_for_request("/images", timeout=1).json["prompt"] == "a red fox"


# --- auth, key, credits, generation ---------------------------------------------------------------


def test_auth_errors(emu: Emulator) -> None:
    with httpx2.Client(base_url=emu.base_url) as anon:
        resp = anon.post("/chat/completions", json=_chat_body())
        assert resp.status_code == 401 and resp.json() == {
            "error": {"message": "No auth credentials found", "code": 401}
        }
        resp = anon.get("/key", headers={"Authorization": "Bearer sk-or-v1-nope"})
        assert resp.status_code == 401 and resp.json()["error"]["message"] == "User not found."
        assert anon.get("/images/models").status_code == 200  # public


def test_key_and_auth_key(emu: Emulator, client: httpx2.Client) -> None:
    body = client.get("/key").json()
    assert body == client.get("/auth/key").json()
    data = body["data"]
    assert data["label"] == "sk-or-v1-te...def" and data["limit"] is None and data["limit_remaining"] is None
    assert data["rate_limit"]["interval"] == "1h" and data["is_management_key"] is False
    emu.key_limit_remaining = 5.0
    chat(client)
    data = client.get("/key").json()["data"]
    assert data["limit_remaining"] < 5.0 and data["usage"] > 0 and data["limit_reset"] == "monthly"
    emu.key_limit_remaining = 0.0
    assert chat(client).status_code == 402


def test_credits_needs_management_key(emu: Emulator, client: httpx2.Client) -> None:
    resp = client.get("/credits")
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == "Only management keys can perform this operation"
    emu.management_keys = {emu.api_key}
    assert client.get("/credits").json()["data"]["total_credits"] == 100.5


def test_generation_lookup_is_404_then_data(emu: Emulator, client: httpx2.Client) -> None:
    gen_id = chat(client).json()["id"]
    assert client.get("/generation", params={"id": gen_id}).status_code == 404
    time.sleep(0.35)
    data = client.get("/generation", params={"id": gen_id}).json()["data"]
    assert data["id"] == gen_id and data["total_cost"] > 0 and data["native_tokens_completion_images"] == 1290


# --- discovery ------------------------------------------------------------------------------------


def test_discovery(emu: Emulator, client: httpx2.Client) -> None:
    listed = {m["id"] for m in client.get("/images/models").json()["data"]}
    assert listed == {GPT_IMAGE, SEEDREAM, FLUX}
    assert GEMINI not in listed and "google/gemini-3.1-flash-image-preview" not in listed
    seedream = next(m for m in client.get("/images/models").json()["data"] if m["id"] == SEEDREAM)
    assert seedream["supported_parameters"]["resolution"]["values"] == ["1K", "2K", "4K"]
    endpoints = client.get(f"/images/models/{GPT_IMAGE}/endpoints").json()
    assert endpoints["endpoints"][0]["supports_streaming"] is True
    assert client.get(f"/images/models/{GEMINI}/endpoints").status_code == 404

    default = {m["id"] for m in client.get("/models").json()["data"]}
    assert GEMINI in default and FLUX not in default  # default `text` hides image-only models
    image = {m["id"] for m in client.get("/models", params={"output_modalities": "image"}).json()["data"]}
    assert {GEMINI, FLUX, GPT_IMAGE} <= image and "openai/gpt-4o-mini" not in image
    assert len(client.get("/models", params={"output_modalities": "all"}).json()["data"]) == 7
    one = client.get(f"/model/{GEMINI}").json()["data"]
    assert one["architecture"]["output_modalities"] == ["image", "text"]

    emu.add_model(ModelSpec(id="acme/pix-1", on_images_api=True, on_chat=False))
    assert images(client, model="acme/pix-1").status_code == 200


def test_unknown_paths_404(client: httpx2.Client) -> None:
    resp = client.post("/images/generations", json={"model": GPT_IMAGE, "prompt": "x"})
    assert resp.status_code == 404


# --- control surface and by-hand mode -------------------------------------------------------------


def test_control_endpoints(emu: Emulator, client: httpx2.Client) -> None:
    ctl = httpx2.Client(base_url=emu.root_url)
    with ctl:
        assert ctl.post("/_emulator/faults", json={"fault": {"kind": "http", "status": 429}, "times": 1}).is_success
        assert chat(client).status_code == 429
        assert ctl.post("/_emulator/faults", json={"set": {"kind": "http", "status": 503}}).is_success
        assert chat(client).status_code == 503
        assert ctl.post("/_emulator/faults", json={"clear": True}).is_success
        assert chat(client).status_code == 200
        assert ctl.post("/_emulator/faults", json={"fault": {"kind": "nope"}}).status_code == 400
        assert ctl.post("/_emulator/latency", json={"latency_s": 0.25}).is_success
        assert emu.latency_s == 0.25
        log = ctl.get("/_emulator/requests").json()
    assert log["generation_count"] == 1 and len(log["requests"]) == 3
    assert log["requests"][0]["headers"]["authorization"] == "<redacted>"
    emu.latency_s = 0
    images(
        client,
        input_references=[{"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 400}}],
    )
    with httpx2.Client(base_url=emu.root_url) as ctl:
        summary = ctl.get("/_emulator/requests").json()["requests"][-1]
    assert "AAAA" * 50 not in json.dumps(summary)


@pytest.mark.slow
def test_by_hand_mode() -> None:
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator.openrouter", "--port", "0"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:\d+/api/v1)\n", line)
        assert match, line
        resp = httpx2.get(match.group(1) + "/images/models", timeout=5)
        assert resp.status_code == 200 and resp.json()["data"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out == "" and err == ""


# --- cancellation from an async client, and shutdown with requests in flight ------------------------


@pytest.mark.anyio
async def test_async_cancel_stops_waiting_request(emu: Emulator) -> None:
    emu.latency_s = 5.0
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    async with httpx2.AsyncClient(base_url=emu.base_url, headers=headers) as c:
        with anyio.move_on_after(0.3):
            await c.post("/chat/completions", json=_chat_body())
        await anyio.to_thread.run_sync(emu.wait_for_cancelled, 1, 3.0)
        # A stream cancelled while the emulator is still "generating" is recorded too.
        async with c.stream("POST", "/chat/completions", json={**_chat_body(), "stream": True}) as resp:
            lines = resp.aiter_lines()
            assert await anext(lines) == ": OPENROUTER PROCESSING"
    await anyio.to_thread.run_sync(emu.wait_for_cancelled, 2, 3.0)
    assert [r.stream for r in emu.cancelled] == [False, True] and emu.usage_usd == 0


def test_stop_with_request_in_flight_is_fast() -> None:
    emu = Emulator().start()
    emu.set_fault(Fault("hang"))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx2.post(
                emu.base_url + "/chat/completions",
                json=_chat_body(),
                headers={"Authorization": f"Bearer {emu.api_key}"},
                timeout=10,
            )
        except httpx2.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    emu.wait_for_request("/chat/completions")
    started = time.monotonic()
    emu.stop()
    worker.join(5)
    assert time.monotonic() - started < 1.5 and not worker.is_alive()
