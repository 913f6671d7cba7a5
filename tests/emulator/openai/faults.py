"""`Fault`: one switch that replaces (or spoils) the answer to the next matching request.

Plain frozen data, so a test thread can queue it, the `/_emulator/faults` endpoint can build it from JSON,
and the server thread can read it without a lock. Faults are taken after authentication and request
validation, so a faulted request is always a valid one (and its uploads are already in the log).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

KINDS = frozenset(
    {
        "rate_limit",
        "insufficient_quota",
        "no_credits",
        "server_error",
        "moderation",
        "model_not_found",
        "expired_url",
        "hang",
        "truncated",
        "html",
        "checkerboard",
    }
)
SERVER_STATUSES = frozenset({500, 502, 503})
IMAGE_PATHS = ("/images/generations", "/images/edits", "/images/variations")


@dataclass(frozen=True)
class Fault:
    """What to do instead of the normal answer.

    `path` (e.g. `"/images/edits"`, `"/models"`; without the `/v1` prefix) limits the fault to requests
    whose API path starts with it; None means any image POST. Options: `status` (`server_error`: 500,
    502 or 503; default 500), `message` (overrides the error text), `retry_after` (seconds, for
    `rate_limit` and `server_error`; sent as `retry-after` and `retry-after-ms`), `stage` (`moderation`:
    `input` or `output`)."""

    kind: str
    path: str | None = None
    status: int | None = None
    message: str | None = None
    retry_after: float | None = None
    stage: str = "input"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if self.kind == "server_error":
            status = self.status or 500
            if status not in SERVER_STATUSES:
                raise ValueError(f"server_error status must be one of {sorted(SERVER_STATUSES)}")
            object.__setattr__(self, "status", status)
        if self.stage not in ("input", "output"):
            raise ValueError("stage must be 'input' or 'output'")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError("path must start with '/', e.g. '/images/edits'")

    def matches(self, api_path: str, method: str) -> bool:
        if self.path is None:
            return method == "POST" and api_path in IMAGE_PATHS
        return api_path.startswith(self.path)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, without options left at their defaults."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "kind" and value != f.default:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        """Build from control-endpoint JSON; unknown keys are an error, not ignored."""
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError("a fault must be an object with a 'kind'")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault option(s): {sorted(unknown)}")
        return cls(**data)
