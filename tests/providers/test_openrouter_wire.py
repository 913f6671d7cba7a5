"""Error mapping and response parsing at the wire boundary, for shapes the emulator cannot vary."""

from __future__ import annotations

import base64
import email.utils
import io
import time

import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.providers import openrouter_wire as wire


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"error": {"code": "server_error", "message": "Generation failed"}}, e.ProviderDownError),
        (200, {"error": {"code": "429", "message": "Rate limit exceeded"}}, e.RateLimitError),
        (
            429,
            {"error": {"message": "at capacity", "error_type": "rate_limit_exceeded", "http_status": 429}},
            e.RateLimitError,
        ),
        (400, {"error": {"message": "acme/fake-1.0 is not a valid model ID", "code": 400}}, e.ModelNotFoundError),
        (200, {"error": {"message": "x", "metadata": {"error_type": "payment_required"}}}, e.CreditsError),
        (500, "not json at all", e.ProviderDownError),
        (524, None, e.ProviderDownError),
        (413, {"error": {"message": "Request payload too large", "code": 413}}, e.BadRequestError),
    ],
)
def test_errors_map_by_int_string_or_typed_code(status: int, body: object, expected: type[e.ProviderError]) -> None:
    err = wire.map_error(status, body, {}, model="m/x")
    assert type(err) is expected
    assert err.message and err.fix


def test_retry_after_comes_from_the_header_in_seconds_or_as_a_date_or_from_availability() -> None:
    assert wire.retry_after_seconds({"retry-after": "7"}) == 7.0
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (wire.retry_after_seconds({"retry-after": soon}) or 0) <= 31
    assert wire.retry_after_seconds({}, {"availability": {"retry_after": 40}}) == 40.0
    assert wire.retry_after_seconds({}) is None


def test_moderation_reasons_are_named() -> None:
    body = {"error": {"code": 403, "message": "flagged", "metadata": {"reasons": ["violence", "gore"]}}}
    err = wire.map_error(403, body, {}, model="openai/gpt-5-image")
    assert isinstance(err, e.ModerationError)
    assert err.reasons == ["violence", "gore"] and "violence, gore" in err.message


def test_a_choice_error_or_error_finish_reason_in_a_200_is_an_error() -> None:
    assert wire.body_error({"choices": [{"finish_reason": "error", "message": {}}]}) is not None
    hidden = wire.body_error({"choices": [{"error": {"code": 502, "message": "disconnected"}}]})
    assert hidden == {"error": {"code": 502, "message": "disconnected"}}
    assert wire.body_error({"choices": [{"finish_reason": "stop"}]}) is None


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,{b64}"}},
        {"image_url": "data:image/png;base64,{b64}"},
        {"url": "{b64}"},
        "data:image/jpeg;base64,{b64}",  # a wrong MIME label: the bytes decide
    ],
)
def test_image_entries_are_parsed_tolerantly_and_sniffed(entry: object) -> None:
    b64 = base64.b64encode(png()).decode()
    filled = eval(repr(entry).replace("{b64}", b64))  # same shape, real payload
    images, _, _ = wire.chat_images({"choices": [{"message": {"images": [filled]}}]})
    assert [i.mime_type for i in images] == ["image/png"]


def test_bytes_that_are_not_an_image_are_refused() -> None:
    bogus = base64.b64encode(b"<html>oops</html>").decode()
    with pytest.raises(e.ImageError):
        wire.image_api_images({"data": [{"b64_json": bogus, "media_type": "image/png"}]})


def test_no_image_error_carries_the_cost_and_reason() -> None:
    err = wire.no_image_error("google/x", "I can't draw that", "IMAGE_SAFETY", 0.002, "gen-1")
    assert "IMAGE_SAFETY" in err.message and "$0.0020" in err.message and "safety" in err.fix
    assert err.cost_usd == 0.002 and err.generation_id == "gen-1"
