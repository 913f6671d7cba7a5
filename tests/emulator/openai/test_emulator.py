"""Self-tests for the loopback OpenAI Images API emulator (and its gateway mode), over real HTTP with httpx2."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from PIL import Image

from . import Fault, ModelSpec, OpenAIEmulator

KEY_HEADER = "Authorization"


@pytest.fixture(scope="module")
def shared() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator() as e:
        yield e


@pytest.fixture
def emu(shared: OpenAIEmulator) -> Iterator[OpenAIEmulator]:
    shared.reset()
    yield shared
    shared.reset()
    shared.latency_s = 0.0


@pytest.fixture
def client(emu: OpenAIEmulator) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emu.base_url, headers={KEY_HEADER: f"Bearer {emu.api_key}"}, timeout=10.0) as c:
        yield c


def png(width: int, height: int, mode: str = "RGB", colour: Any = (10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def image_of(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def gen(client: httpx2.Client, **body: Any) -> httpx2.Response:
    return client.post("/images/generations", json={"prompt": "a red fox", **body})


def b64_image(resp: httpx2.Response, i: int = 0) -> bytes:
    return base64.b64decode(resp.json()["data"][i]["b64_json"])


# --- 1. auth, request ids, models --------------------------------------------------------------------


def test_a_wrong_or_missing_key_is_a_401_invalid_api_key_in_the_openai_envelope(emu: OpenAIEmulator) -> None:
    url = emu.base_url + "/images/generations"
    for headers in ({}, {KEY_HEADER: "Bearer sk-wrong"}, {KEY_HEADER: f"Basic {emu.api_key}"}):
        resp = httpx2.post(url, json={"model": "gpt-image-1", "prompt": "x"}, headers=headers)
        assert resp.status_code == 401
        error = resp.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_api_key")


def test_every_answer_carries_an_x_request_id_that_the_log_records(emu: OpenAIEmulator, client: httpx2.Client) -> None:
    answers = [gen(client, model="gpt-image-1"), client.get("/models"), client.get("/nope"), httpx2.get(emu.root_url)]
    ids = [r.headers["x-request-id"] for r in answers]
    assert all(i.startswith("req_") for i in ids) and len(set(ids)) == 4
    assert [r.request_id for r in emu.requests] == ids


def test_models_is_the_list_envelope_with_shutdown_dates_and_follows_the_configured_list(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    body = client.get("/models").json()
    assert body["object"] == "list"
    by_id = {m["id"]: m for m in body["data"]}
    assert by_id["gpt-image-1"] == {
        "id": "gpt-image-1",
        "object": "model",
        "created": 1_745_000_000,
        "owned_by": "system",
        "shutdown_date": "2026-10-23",
    }
    assert "shutdown_date" not in by_id["gpt-image-2"]
    saved = emu.models
    try:
        emu.models = [ModelSpec("gpt-image-9"), ModelSpec("gpt-image-old", retired=True, shutdown_date="2025-01-01")]
        assert [m["id"] for m in client.get("/models").json()["data"]] == ["gpt-image-9", "gpt-image-old"]
        assert gen(client, model="gpt-image-9").status_code == 200
        gone = gen(client, model="gpt-image-old")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "model_not_found"
        assert client.get("/models/gpt-image-9").json()["id"] == "gpt-image-9"
    finally:
        emu.models = saved


# --- 2. generations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "gpt-image-1", "size": "1792x1024"}, "size", "invalid_value"),
        ({"model": "dall-e-3", "size": "512x512"}, "size", "invalid_value"),
        ({"model": "dall-e-2", "size": "1792x1024"}, "size", "invalid_value"),
        ({"model": "gpt-image-2", "size": "1000x1000"}, "size", "invalid_value"),
        ({"model": "gpt-image-2", "size": "3840x1024"}, "size", "invalid_value"),
        ({"model": "gpt-image-1", "quality": "hd"}, "quality", "invalid_value"),
        ({"model": "dall-e-3", "quality": "high"}, "quality", "invalid_value"),
        ({"model": "dall-e-3", "n": 2}, "n", "invalid_value"),
        ({"model": "gpt-image-1", "n": 11}, "n", "invalid_value"),
        ({"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
        ({"model": "gpt-image-1", "seed": 3}, "seed", "unknown_parameter"),
        ({"model": "gpt-image-1", "response_format": "url"}, "response_format", "unknown_parameter"),
        ({"model": "dall-e-3", "output_format": "webp"}, "output_format", "unknown_parameter"),
        ({"model": "gpt-image-1", "prompt": ""}, "prompt", "missing_required_parameter"),
    ],
)
def test_per_model_checks_answer_400_naming_the_parameter(
    client: httpx2.Client, body: dict[str, Any], param: str, code: str
) -> None:
    resp = gen(client, **body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


@pytest.mark.parametrize(("model", "limit"), [("gpt-image-1", 32000), ("dall-e-3", 4000), ("dall-e-2", 1000)])
def test_prompt_limits_are_per_model(client: httpx2.Client, model: str, limit: int) -> None:
    assert gen(client, model=model, prompt="x" * limit).status_code == 200
    resp = gen(client, model=model, prompt="x" * (limit + 1))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "string_above_max_length"
    assert f"maximum length {limit}" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fmt", "size", "pil_format"),
    [("png", "1024x1024", "PNG"), ("jpeg", "1536x1024", "JPEG"), ("webp", "1024x1536", "WEBP")],
)
def test_gpt_image_answers_real_b64_images_of_the_requested_size_and_format_with_usage(
    client: httpx2.Client, fmt: str, size: str, pil_format: str
) -> None:
    resp = gen(client, model="gpt-image-1", size=size, output_format=fmt, quality="low", n=2)
    assert resp.status_code == 200
    body = resp.json()
    assert [set(item) for item in body["data"]] == [{"b64_json"}, {"b64_json"}]
    assert (body["background"], body["output_format"], body["quality"], body["size"]) == ("opaque", fmt, "low", size)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert set(usage["input_tokens_details"]) == {"image_tokens", "text_tokens"}
    assert set(usage["output_tokens_details"]) == {"image_tokens", "text_tokens"}
    first = image_of(b64_image(resp, 0))
    assert first.format == pil_format and f"{first.width}x{first.height}" == size
    assert b64_image(resp, 0) != b64_image(resp, 1)
    again = gen(client, model="gpt-image-1", size=size, output_format=fmt, quality="low")
    assert hashlib.sha256(b64_image(again)).digest() == hashlib.sha256(b64_image(resp, 0)).digest()


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a_transparent_background_has_an_alpha_channel(client: httpx2.Client, fmt: str) -> None:
    resp = gen(client, model="gpt-image-1", background="transparent", output_format=fmt)
    assert resp.json()["background"] == "transparent"
    img = image_of(b64_image(resp)).convert("RGBA")
    assert img.getpixel((0, 0))[3] == 0 and img.getpixel((img.width // 2, img.height // 2))[3] == 255


def test_dalle_answers_a_same_origin_url_by_default_and_b64_on_request_with_the_same_bytes(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    by_url = gen(client, model="dall-e-3", size="1792x1024", style="natural", quality="hd")
    assert by_url.status_code == 200
    item = by_url.json()["data"][0]
    assert set(item) == {"url", "revised_prompt"} and "usage" not in by_url.json()
    assert item["url"].startswith(emu.root_url + "/files/")
    download = httpx2.get(item["url"])  # no key: a signed URL
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert image_of(download.content).size == (1792, 1024)
    by_b64 = gen(client, model="dall-e-3", size="1792x1024", style="natural", quality="hd", response_format="b64_json")
    assert hashlib.sha256(b64_image(by_b64)).hexdigest() == hashlib.sha256(download.content).hexdigest()
    small = gen(client, model="dall-e-2", size="256x256")
    assert set(small.json()["data"][0]) == {"url"}


def test_an_image_url_dies_after_its_lifetime_like_an_expired_signed_url(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    url = gen(client, model="dall-e-2").json()["data"][0]["url"]
    emu.advance_clock(3599)
    assert httpx2.get(url).status_code == 200
    emu.advance_clock(2)
    expired = httpx2.get(url)
    assert expired.status_code == 403 and "<Code>AuthenticationFailed</Code>" in expired.text
    assert httpx2.get(url.replace("sig=", "sig=0")).status_code == 404
    emu.url_lifetime_s = 10
    try:
        fresh = gen(client, model="dall-e-2").json()["data"][0]["url"]
        emu.advance_clock(11)
        assert httpx2.get(fresh).status_code == 403
    finally:
        emu.url_lifetime_s = 3600.0


# --- 3. edits and variations ------------------------------------------------------------------------


def test_an_edit_records_each_repeated_image_part_and_the_mask(emu: OpenAIEmulator, client: httpx2.Client) -> None:
    first, second = png(300, 200), png(300, 200, colour=(200, 0, 0))
    mask = png(300, 200, "RGBA", (0, 0, 0, 0))
    files = [
        ("image[]", ("a.png", first, "image/png")),
        ("image[]", ("b.png", second, "image/png")),
        ("mask", ("m.png", mask, "image/png")),
    ]
    data = {"model": "gpt-image-1", "prompt": "swap colours", "input_fidelity": "high"}
    resp = client.post("/images/edits", data=data, files=files)
    assert resp.status_code == 200, resp.text
    assert resp.json()["size"] == "1536x1024"  # size=auto follows the first image's landscape shape
    parts = emu.requests[-1].parts
    assert [(p.name, p.filename, p.size, p.sha256) for p in parts] == [
        ("image[]", "a.png", len(first), hashlib.sha256(first).hexdigest()),
        ("image[]", "b.png", len(second), hashlib.sha256(second).hexdigest()),
        ("mask", "m.png", len(mask), hashlib.sha256(mask).hexdigest()),
    ]
    assert emu.requests[-1].fields["input_fidelity"] == ["high"]
    single = client.post("/images/edits", data=data, files=[("image", ("a.png", first, "image/png"))])
    assert single.status_code == 200
    assert b64_image(single) != b64_image(resp)  # the output depends on what was uploaded


@pytest.mark.parametrize(
    ("mask", "needle"),
    [
        (png(300, 200, "RGB"), "alpha channel"),
        (png(100, 100, "RGBA", (0, 0, 0, 0)), "same dimensions"),
        (b"GIF89a not a png", "must be a PNG"),
    ],
)
def test_a_bad_mask_is_a_400_that_says_what_is_wrong(client: httpx2.Client, mask: bytes, needle: str) -> None:
    files = [("image", ("a.png", png(300, 200), "image/png")), ("mask", ("m.png", mask, "image/png"))]
    resp = client.post("/images/edits", data={"model": "gpt-image-1", "prompt": "p"}, files=files)
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "mask" and needle in resp.json()["error"]["message"]


def test_edit_image_rules_count_format_and_field_names(client: httpx2.Client) -> None:
    data = {"model": "gpt-image-1", "prompt": "p"}
    seventeen = [("image[]", (f"{i}.png", png(8, 8), "image/png")) for i in range(17)]
    assert client.post("/images/edits", data=data, files=seventeen).status_code == 400
    gif = [("image", ("a.gif", b"GIF89a....", "image/gif"))]
    assert client.post("/images/edits", data=data, files=gif).json()["error"]["code"] == "invalid_image_format"
    both = [("image", ("a.png", png(8, 8), "image/png")), ("image[]", ("b.png", png(8, 8), "image/png"))]
    assert client.post("/images/edits", data=data, files=both).status_code == 400
    missing = client.post("/images/edits", data=data, files=[("other", ("x.png", png(8, 8), "image/png"))])
    assert missing.json()["error"]["code"] == "unknown_parameter"
    as_json = client.post("/images/edits", json=data)
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["error"]["message"]
    mini = client.post(
        "/images/edits",
        data={**data, "model": "gpt-image-1-mini", "input_fidelity": "high"},
        files=[("image", ("a.png", png(8, 8), "image/png"))],
    )
    assert mini.json()["error"]["param"] == "input_fidelity"


def test_variations_are_dall_e_2_only_and_need_a_square_png(client: httpx2.Client) -> None:
    square = [("image", ("a.png", png(64, 64), "image/png"))]
    ok = client.post("/images/variations", data={"n": "2", "size": "256x256"}, files=square)
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2
    assert image_of(httpx2.get(ok.json()["data"][0]["url"]).content).size == (256, 256)
    wrong_model = client.post("/images/variations", data={"model": "gpt-image-1"}, files=square)
    assert wrong_model.status_code == 400 and wrong_model.json()["error"]["param"] == "model"
    oblong = client.post("/images/variations", files=[("image", ("a.png", png(64, 32), "image/png"))])
    assert oblong.status_code == 400 and "square" in oblong.json()["error"]["message"]


# --- 4. faults --------------------------------------------------------------------------------------


def test_rate_limit_fault_sends_ratelimit_and_retry_after_headers_then_the_next_call_succeeds(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    emu.fault("rate_limit", retry_after=2)
    limited = gen(client, model="gpt-image-1")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "2000")
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.headers["x-ratelimit-reset-requests"] == "2s"
    assert {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"} <= set(
        limited.headers
    )
    assert gen(client, model="gpt-image-1").status_code == 200


@pytest.mark.parametrize(
    ("fault", "model", "status", "code"),
    [
        (Fault("insufficient_quota"), "gpt-image-1", 429, "insufficient_quota"),
        (Fault("no_credits"), "gpt-image-1", 402, "insufficient_credits"),
        (Fault("server_error"), "gpt-image-1", 500, None),
        (Fault("server_error", status=502), "gpt-image-1", 502, None),
        (Fault("server_error", status=503), "gpt-image-1", 503, None),
        (Fault("moderation", stage="output"), "gpt-image-1", 400, "moderation_blocked"),
        (Fault("moderation"), "dall-e-3", 400, "content_policy_violation"),
        (Fault("model_not_found"), "gpt-image-1", 404, "model_not_found"),
    ],
)
def test_error_faults_answer_the_documented_status_and_code(
    emu: OpenAIEmulator, client: httpx2.Client, fault: Fault, model: str, status: int, code: str | None
) -> None:
    emu.fault(fault)
    resp = gen(client, model=model)
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code
    if code == "moderation_blocked":
        assert resp.json()["error"]["type"] == "image_generation_user_error"
        assert resp.json()["error"]["moderation_details"] == {"moderation_stage": "output", "categories": ["other"]}
    assert emu.requests[-1].fault == fault and emu.requests[-1].outcome == "error"


def test_a_fault_targets_only_its_path_and_times_none_keeps_it(emu: OpenAIEmulator, client: httpx2.Client) -> None:
    emu.fault("server_error", times=None, path="/images/edits")
    assert gen(client, model="gpt-image-1").status_code == 200
    files = [("image", ("a.png", png(8, 8), "image/png"))]
    for _ in range(2):
        assert client.post("/images/edits", data={"prompt": "p"}, files=files).status_code == 500
    emu.clear_faults()
    assert client.post("/images/edits", data={"prompt": "p"}, files=files).status_code == 200
    emu.fault("rate_limit", path="/models")
    assert client.get("/models").status_code == 429


def test_expired_url_fault_hands_out_a_dead_url(emu: OpenAIEmulator, client: httpx2.Client) -> None:
    emu.fault("expired_url")
    url = gen(client, model="dall-e-2").json()["data"][0]["url"]
    assert httpx2.get(url).status_code == 403


def test_truncated_and_html_faults_answer_200_with_a_body_that_is_not_the_json(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    emu.fault("truncated")
    cut = gen(client, model="gpt-image-1")
    assert cut.status_code == 200 and cut.text.startswith('{"created"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.text)
    emu.fault("html")
    page = gen(client, model="gpt-image-1")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")


def test_a_hang_never_answers_and_the_emulator_records_the_client_disconnect(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    emu.fault("hang", path="/images/edits")
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.post(
                "/images/edits",
                data={"prompt": "p"},
                files=[("image", ("a.png", png(8, 8), "image/png"))],
                timeout=httpx2.Timeout(10.0, read=0.5),
            )
        except BaseException as exc:  # the client gives up: the emulator must notice
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    cancelled = emu.wait_for_cancelled(timeout=5.0)
    caller.join(5.0)
    assert isinstance(outcome[0], httpx2.ReadTimeout)
    assert cancelled[0].api_path == "/images/edits" and cancelled[0].outcome == "cancelled"
    assert cancelled[0].parts[0].filename == "a.png"


# --- 5. gateway mode --------------------------------------------------------------------------------


def test_a_root_mounted_gateway_answers_urls_for_gpt_image_and_its_own_error_envelopes() -> None:
    with OpenAIEmulator(gateway=True, prefix="") as gw:
        assert gw.base_url == gw.root_url
        headers = {KEY_HEADER: f"Bearer {gw.api_key}"}
        with httpx2.Client(base_url=gw.base_url, headers=headers, timeout=10.0) as c:
            resp = gen(c, model="gpt-image-1", size="1024x1024", seed=7)  # unknown params are ignored
            assert resp.status_code == 200
            url = resp.json()["data"][0]["url"]
            assert url.startswith(gw.root_url + "/files/") and "usage" in resp.json()
            assert image_of(httpx2.get(url).content).size == (1024, 1024)
            too_long = gen(c, model="gpt-image-1", prompt="x" * 1001)
            assert too_long.status_code == 400
            assert too_long.json()["code"] == 400 and "maximum length 1000" in too_long.json()["msg"]
            assert c.get("/v1/models").status_code == 404
            gw.error_style = "string"
            gw.fault("no_credits")
            broke = gen(c, model="gpt-image-1")
            assert broke.status_code == 402 and isinstance(broke.json()["error"], str)


def test_a_v1_gateway_needs_the_client_to_add_v1_to_a_bare_host() -> None:
    with OpenAIEmulator(gateway=True) as gw:
        headers = {KEY_HEADER: f"Bearer {gw.api_key}"}
        bare = httpx2.post(gw.root_url + "/images/generations", json={"prompt": "p"}, headers=headers)
        assert bare.status_code == 404
        ok = httpx2.post(gw.root_url + "/v1/images/generations", json={"prompt": "p"}, headers=headers)
        assert ok.status_code == 200 and "url" in ok.json()["data"][0]


def test_gateway_models_is_unfiltered_or_missing() -> None:
    with OpenAIEmulator(gateway=True) as gw:
        headers = {KEY_HEADER: f"Bearer {gw.api_key}"}
        listed = httpx2.get(gw.base_url + "/models", headers=headers).json()["data"]
        ids = {m["id"] for m in listed}
        assert {"gpt-image-1", "gpt-4o-mini", "deepseek-chat"} <= ids
        assert all(set(m) <= {"id", "object", "created", "owned_by", "shutdown_date"} for m in listed)
        gw.models_route = "missing"
        assert httpx2.get(gw.base_url + "/models", headers=headers).status_code == 404
    with OpenAIEmulator() as openai:
        headers = {KEY_HEADER: f"Bearer {openai.api_key}"}
        ids = {m["id"] for m in httpx2.get(openai.base_url + "/models", headers=headers).json()["data"]}
        assert "gpt-4o-mini" not in ids


# --- 6. keys, control surface, CLI ------------------------------------------------------------------


def test_no_answer_or_log_view_ever_contains_the_authorization_header(emu: OpenAIEmulator) -> None:
    secret = "sk-proj-SECRET-do-not-echo-42"
    emu.valid_keys = {emu.api_key, secret}
    try:
        bodies: list[str] = []
        with httpx2.Client(base_url=emu.base_url, timeout=10.0) as c:
            for key in (secret, secret + "x"):
                c.headers[KEY_HEADER] = f"Bearer {key}"
                for kind in ("rate_limit", "insufficient_quota", "no_credits", "moderation", "model_not_found"):
                    emu.fault(kind)
                    bodies.append(gen(c, model="gpt-image-1").text)
                bodies.append(gen(c, model="gpt-image-1", bogus=1).text)
                bodies.append(gen(c, model="dall-e-2").text)
                bodies.append(c.get("/models").text)
                bodies.append(c.get("/nowhere").text)
        bodies.append(httpx2.get(emu.root_url + "/_emulator/requests").text)
        assert len(bodies) == 19
        assert not [b for b in bodies if "SECRET" in b]
    finally:
        emu.valid_keys = {emu.api_key}


def test_the_http_control_surface_queues_faults_sets_knobs_and_shows_the_log(
    emu: OpenAIEmulator, client: httpx2.Client
) -> None:
    control = emu.root_url + "/_emulator"
    queued = httpx2.post(control + "/faults", json={"fault": {"kind": "server_error", "status": 503}, "times": 2})
    assert queued.json()["faults"] == [{"kind": "server_error", "status": 503, "times": 2}]
    assert httpx2.post(control + "/faults", json={"fault": {"kind": "nope"}}).status_code == 400
    assert [gen(client, model="gpt-image-1").status_code for _ in range(3)] == [503, 503, 200]
    assert httpx2.post(control + "/config", json={"prompt_limit": 5}).json()["prompt_limit"] == 5
    assert gen(client, model="gpt-image-1", prompt="toolong").status_code == 400
    assert httpx2.post(control + "/config", json={"error_style": "xml"}).status_code == 400
    httpx2.post(control + "/config", json={"prompt_limit": None})
    log = httpx2.get(control + "/requests").json()["requests"]
    assert [r["status"] for r in log] == [503, 503, 200, 400]
    assert log[0]["headers"]["authorization"] == "<redacted>"
    httpx2.post(control + "/reset")
    assert emu.requests == []


@pytest.mark.slow
def test_the_emulator_runs_by_hand_as_a_gateway_on_its_own_port(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [sys.executable, "-m", "tests.emulator.openai", "--port", "0", "--gateway", "--prefix", ""]
    with subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            assert line.startswith("openai emulator listening on http://127.0.0.1:")
            base = line.rsplit(" ", 1)[1].strip()
            headers = {KEY_HEADER: "Bearer sk-proj-emulator-0123456789abcdef"}
            resp = httpx2.post(
                base + "/images/generations", json={"prompt": "p", "model": "gpt-image-1"}, headers=headers
            )
            assert resp.status_code == 200 and resp.json()["data"][0]["url"].startswith(base + "/files/")
        finally:
            proc.terminate()
            proc.wait(10)
