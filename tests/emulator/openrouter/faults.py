"""`Fault`: one switch that changes how the emulator answers the next generation request(s).

A fault is plain data (a frozen dataclass) so the same value can be queued from a test thread, sent over
the `/_emulator/faults` control endpoint as JSON, and read by the server thread without locking.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SUCCESS_KINDS = frozenset(
    {
        "jpeg",
        "webp",
        "two_images",
        "text_and_image",
        "large",
        "no_media_type",
        "omit_system_fingerprint",
        "image_as_string",
        "size",
        "checkerboard",
    }
)
"""Kinds that still deliver images, only the shape or bytes of the success body change."""

NO_IMAGE_KINDS = frozenset({"no_image_safety", "no_image_prohibited", "text_refusal"})
"""Kinds that answer 200 and bill the request, but return no image."""

ERROR_KINDS = frozenset({"http", "error_200", "choice_error", "stream_error", "reset", "hang", "truncated"})

ALL_KINDS = SUCCESS_KINDS | NO_IMAGE_KINDS | ERROR_KINDS

HTTP_VARIANTS = frozenset({"platform", "upstream", "availability", "moderation", "credits_max_tokens", "string_code"})

HTTP_STATUSES = frozenset({400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 524, 529})

# A variant implies a status, so `Fault("http", variant="platform")` needs no `status`.
_VARIANT_STATUS = {
    "platform": 429,
    "upstream": 429,
    "availability": 503,
    "moderation": 403,
    "credits_max_tokens": 402,
    "string_code": 500,
}

IMAGE_FORMATS = frozenset({"png", "jpeg", "webp"})


@dataclass(frozen=True)
class Fault:
    """What to do to a generation request instead of (or on top of) the normal success.

    Options by kind: `http` uses `status` (or a `variant` that implies one), `message`, `retry_after`,
    `code`, `metadata`; `error_200` uses `code`, `message`, `metadata`; `choice_error` and
    `stream_error` use `code`, `string_code`, `message`, `metadata`; `size` needs `width` and `height`;
    `truncated` (Image API) bills the generation, sends the headers (with `X-Generation-Id`) and half the
    JSON body, then closes the connection: the client sees a cut-off answer to a billed request.
    `reset` uses `mid_stream` (drop the connection after the first SSE frame instead of before any
    response). `image_format` (png/jpeg/webp) combines with any success kind. `checkerboard` is a model
    that, asked for a transparent background, paints a grey-and-white checkerboard into an opaque image.
    """

    kind: str
    status: int | None = None
    message: str | None = None
    variant: str | None = None
    retry_after: float | None = None
    code: int | str | None = None
    string_code: bool = False
    width: int | None = None
    height: int | None = None
    image_format: str | None = None
    metadata: dict[str, Any] | None = None
    mid_stream: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(ALL_KINDS)}")
        if self.variant is not None and self.variant not in HTTP_VARIANTS:
            raise ValueError(f"unknown http fault variant {self.variant!r}")
        if self.kind == "http":
            status = self.status if self.status is not None else _VARIANT_STATUS.get(self.variant or "")
            if status is None:
                raise ValueError("Fault('http') needs a status (or a variant that implies one)")
            if status not in HTTP_STATUSES:
                raise ValueError(f"unsupported http fault status {status}")
            object.__setattr__(self, "status", status)
        if self.kind == "size" and (not self.width or not self.height):
            raise ValueError("Fault('size') needs positive width and height")
        fmt = self.image_format or {"jpeg": "jpeg", "webp": "webp"}.get(self.kind)
        if fmt is not None and fmt not in IMAGE_FORMATS:
            raise ValueError(f"unsupported image_format {fmt!r}")
        object.__setattr__(self, "image_format", fmt)

    @property
    def is_success_variant(self) -> bool:
        return self.kind in SUCCESS_KINDS

    @property
    def is_no_image(self) -> bool:
        return self.kind in NO_IMAGE_KINDS

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, without options left at their defaults."""
        defaults = Fault.__dataclass_fields__
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "kind" and value != defaults[f.name].default:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from the JSON the control endpoint receives; unknown keys are an error, not ignored."""
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError("a fault must be an object with a 'kind'")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault option(s): {sorted(unknown)}")
        return cls(**data)
