"""Reading a ``jobs`` row without ever raising: a damaged row is described, not thrown.

A row can be damaged by a disk fault, a hand edit or another tool writing the file: a JSON column
that does not parse, a number stored as text, a result whose images are not images. Raising while
decoding one would take down every caller that lists it (``queue_status``, the worker's claim, the
receipt writer) and starve every other job, so :func:`decode_job` returns a usable :class:`Job`
(damaged fields replaced by empty values) together with what is wrong, and the store quarantines
the row: the job becomes ``failed`` with :func:`corrupt_error`, and the rest of the queue goes on.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from pydantic import ValidationError

from imagegen_mcp.models import SavedImage, problems
from imagegen_mcp.queue.jobs import Job

CORRUPT_CODE = "job_corrupt"
STATUSES = frozenset({"queued", "running", "succeeded", "failed", "cancelled"})
_SHOWN = 60  # characters of a bad value quoted in the error


def loads(raw: Any, default: Any = None) -> Any:
    """``json.loads`` for a column that is only informational (an attempt's error): never raises."""
    if not isinstance(raw, str | bytes):
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def is_quarantined(job: Job) -> bool:
    return job.status == "failed" and isinstance(job.error, dict) and job.error.get("code") == CORRUPT_CODE


def corrupt_error(job_id: str, problem: str) -> dict[str, Any]:
    return {
        "code": CORRUPT_CODE,
        "error_class": "StorageError",
        "message": (
            f"the queue's record of job {job_id} is damaged ({problem}); the job was set aside as failed "
            "so the rest of the queue keeps running"
        ),
        "fix": (
            "enqueue it again with a new request_id (imagegen-mcp enqueue --from-manifest <prefix>-manifest.json "
            "--prefix NEW); if records keep breaking, check the disk that holds IMAGEGEN_QUEUE_DIR"
        ),
    }


def decode_job(row: sqlite3.Row) -> tuple[Job, str | None]:
    """The job in ``row`` and what is wrong with it (None when nothing is)."""
    bad: list[str] = []
    keys = set(row.keys())

    def value(name: str) -> Any:
        return row[name] if name in keys else None

    def text(name: str, *, optional: bool = False) -> Any:
        v = value(name)
        if (v is None and optional) or (isinstance(v, str) and v):
            return v
        bad.append(f"column {name}: expected text, found {_show(v)}")
        return None if optional else ""

    def integer(name: str, default: int = 0) -> int:
        v = value(name)
        if isinstance(v, int):
            return v
        bad.append(f"column {name}: expected an integer, found {_show(v)}")
        return default

    def number(name: str, *, optional: bool = False) -> Any:
        v = value(name)
        if (v is None and optional) or isinstance(v, int | float):
            return v
        bad.append(f"column {name}: expected a number, found {_show(v)}")
        return None if optional else 0.0

    def obj(name: str, *, optional: bool) -> Any:
        raw = value(name)
        if raw is None:
            if not optional:
                bad.append(f"column {name} is empty")
            return None if optional else {}
        try:
            v = json.loads(raw)
        except (TypeError, ValueError) as exc:
            bad.append(f"column {name} is not valid JSON ({exc})")
            return None if optional else {}
        if not isinstance(v, dict):
            bad.append(f"column {name}: expected a JSON object, found {type(v).__name__}")
            return None if optional else {}
        return v

    status = value("status")
    if status not in STATUSES:
        bad.append(f"column status: {_show(status)} is not a job status")
        status = "failed"
    found = len(bad)
    spec = obj("spec", optional=False)
    request = spec.get("request")
    if len(bad) == found and not (isinstance(request, dict) and isinstance(request.get("prompt"), str)):
        bad.append("column spec: it holds no request with a prompt")
        spec = {}
    if not isinstance(spec.get("lint", {}), dict):
        bad.append("column spec: lint is not an object")
        spec = {}
    result = obj("result", optional=True)
    if result is not None and (why := _bad_images(result.get("images", []))):
        bad.append(f"column result: {why}")
        result = None
    job = Job(
        job_id=text("job_id"), request_id=text("request_id"), index=integer("idx"), status=status,
        spec=spec, target=text("target"), attempts=integer("attempts"), max_attempts=integer("max_attempts", 1),
        not_before=number("not_before"), lease_owner=text("lease_owner", optional=True),
        lease_expires=number("lease_expires", optional=True), created_at=number("created_at"),
        started_at=number("started_at", optional=True), finished_at=number("finished_at", optional=True),
        result=result, error=obj("error", optional=True), last_error=obj("last_error", optional=True),
        cost_usd=number("cost_usd", optional=True),
        lost_leases=integer("lost_leases") if "lost_leases" in keys else 0,
        cancel_requested=bool(value("cancel_requested")),
    )  # fmt: skip
    return job, "; ".join(bad) or None


def _bad_images(images: Any) -> str | None:
    if not isinstance(images, list):
        return "images is not a list"
    for i, image in enumerate(images):
        if not isinstance(image, dict):
            return f"image {i + 1} is not an object"
        try:
            SavedImage(**image)
        except (TypeError, ValidationError) as exc:
            detail = problems(exc) if isinstance(exc, ValidationError) else "unexpected keys"
            return f"image {i + 1}: {detail}"
    return None


def _show(v: Any) -> str:
    shown = repr(v)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
