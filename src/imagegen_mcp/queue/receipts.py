"""Receipts: one JSON file per finished job, written so that no reader ever sees half of one.

``<queue dir>/results/<job_id>.json`` for a success, ``failed/<job_id>.json`` for a failure: the
request, the outputs, provider metadata (model, generation id, cost), timings, every attempt, and on
failure the error class, code, message and fix. Files are written tmp → fsync → rename → fsync(dir).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imagegen_mcp.errors import StorageError
from imagegen_mcp.queue.jobs import Job
from imagegen_mcp.storage.local import fsync_dir

RECEIPT_VERSION = 1
_FIX_DIR = "check that IMAGEGEN_QUEUE_DIR is a writable local directory (run the preflight tool)"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The edit diagnostics of a result (see lint/rails.py and imaging/inputs.py): enough to debug a drifting edit.
DIAGNOSTICS = (
    "edit_intent_detected",
    "baseline_applied",
    "baseline_source",
    "baseline_source_kind",
    "baseline_resolution_policy",
    "rails_applied",
)


def build_receipt(job: Job, attempts: list[dict[str, Any]], info: dict[str, Any]) -> dict[str, Any]:
    """The receipt of a finished job: request, outputs, provider, timings, attempts, error."""
    result = job.result or {}
    runs = [
        {
            "n": r["n"], "owner": r["owner"], "started_at": iso(r["started_at"]), "ended_at": iso(r["ended_at"]),
            "elapsed_s": None if r["ended_at"] is None else round(r["ended_at"] - r["started_at"], 3),
            "outcome": r["outcome"], "error": _loads(r["error"]),
        }
        for r in attempts
    ]  # fmt: skip
    return {
        "receipt_version": RECEIPT_VERSION,
        "job_id": job.job_id,
        "request_id": job.request_id,
        "index": job.index,
        "status": job.status,
        "request": {
            **job.spec.get("request", {}),
            "lint": job.spec.get("lint", {}),
            "target": job.target,
            "out_dir": info.get("out_dir"),
            "prefix": info.get("prefix"),
        },
        "outputs": result.get("images", []),
        "provider": {
            "name": result.get("provider"),
            "model": result.get("model"),
            "generation_id": result.get("generation_id"),
            "cost_usd": job.cost_usd,
            "recovered": result.get("recovered", False),
        },
        "operation": result.get("operation"),
        # every provider attempt of the run that finished the job, with the response metadata (``meta``) of
        # the one that made the images: ids, status, finish reasons, usage, seeds (image data elided, no keys)
        "provider_attempts": result.get("attempts", []),
        "diagnostics": {key: result.get(key) for key in DIAGNOSTICS} if result else None,
        "hints": result.get("hints", []),
        "timings": {
            "created_at": iso(job.created_at),
            "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at),
            "queued_s": _span(job.created_at, job.started_at),
            "run_s": _span(job.started_at, job.finished_at),
            "total_s": _span(job.created_at, job.finished_at),
        },
        "attempts": job.attempts,
        "lost_leases": job.lost_leases,
        "attempt_log": runs,
        "error": job.error,
    }


def _loads(raw: Any) -> Any:
    """An attempt's recorded error; a damaged one is left out rather than failing the receipt."""
    try:
        return json.loads(raw) if raw else None
    except (TypeError, ValueError):
        return None


def _span(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 3)


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    """tmp → fsync → rename, so a reader (or a crash) never sees half a file under ``path``.

    ``durable=False`` skips the fsyncs: still atomic, and safe against a killed process, but a power
    cut may lose the file (for hints that can be rebuilt, like a staged job's result).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not write {path}: {exc.strerror or exc}", _FIX_DIR) from exc
    finally:
        tmp.unlink(missing_ok=True)


def sweep_temp_files(folders: Iterable[Path], min_age_s: float) -> int:
    """Delete ``.*.tmp`` files older than ``min_age_s`` (left by a writer that was killed)."""
    removed = 0
    now = time.time()
    for folder in folders:
        for p in folder.glob(".*.tmp"):
            try:
                if now - p.stat().st_mtime >= min_age_s:
                    p.unlink()
                    removed += 1
            except OSError:
                continue
    return removed
