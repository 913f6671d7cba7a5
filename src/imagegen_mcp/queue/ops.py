"""What ``enqueue_images`` / ``queue_status`` and the CLI's ``enqueue`` / ``status`` share.

:func:`enqueue` validates a request completely before anything is stored: the arguments (count,
request_id, out_dir, prefix), the provider's key, file names already taken, and everything the
pipeline checks in a dry run (the output path, a baseline image's rails, the prompt linter), so
bad input is a clear error and nothing is enqueued. ``out_dir`` goes through the same
:func:`~imagegen_mcp.storage.local.check_target` as ``out`` (a folder, not a file; writable; room).

Identity: the sha256 of the canonical JSON of the arguments as given (values left at their
defaults omitted, so a new option in a later release does not change it). The same ``request_id``
with the same arguments returns the same jobs; a different payload under that id is refused.

Each request writes ``<out_dir>/<prefix>-manifest.json`` (prompt, prompts, operation and options,
variants, output targets); ``imagegen-mcp enqueue --from-manifest FILE`` repeats it.

Any operation can be queued: ``operation`` (in the options: ``generate``, an edit mode, ``upscale``)
with that tool's arguments; each job runs it through the one pipeline. ``prompts[]`` is a batch of
different prompts, one job each (in place of ``count``); a ``prompt`` given with it is shared context
put before each one (a character sheet: one reference, six expressions).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from pydantic import Field, ValidationError, field_validator, model_validator

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ImagegenError, RequestError
from imagegen_mcp.models import GenerateOptions, GenerateRequest, Hint, SavedImage, problems
from imagegen_mcp.pipeline import LintOptions, Services, generate
from imagegen_mcp.queue.jobs import Job, NewJob, new_id
from imagegen_mcp.queue.models import (
    MAX_COUNT,
    MAX_REQUEST_ID,
    CancelledJob,
    CancelResult,
    EnqueuedJob,
    EnqueueResult,
    JobError,
    JobView,
    QueueStatusResult,
    QueueTotals,
)
from imagegen_mcp.queue.receipts import iso, write_json_atomic
from imagegen_mcp.queue.sqlstore import request_id_conflict
from imagegen_mcp.queue.store import JobStore
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage.objects import publish

log = logging.getLogger("imagegen_mcp.queue")

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
PREFIX = re.compile(r"[^\W][\w.\- ]*")
MANIFEST_VERSION = 1
QUEUE_KEYS = frozenset({"count", "request_id", "out_dir", "prefix", "start_index", "variant_notes", "prompts"})
LINT_KEYS = ("clarify_hints", "strict_clarify", "allow_no_baseline_on_edit_intent")


class EnqueueRequest(GenerateOptions):
    """The arguments of ``enqueue_images`` (and ``imagegen-mcp enqueue``): ``generate_image``'s options
    (one image per job, so no ``n``), plus the queue's own."""

    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    request_id: str | None = Field(default=None, min_length=1, max_length=MAX_REQUEST_ID)
    out_dir: str = Field(default="", max_length=1024)
    prefix: str | None = Field(default=None, min_length=1, max_length=80)
    start_index: int = Field(default=1, ge=1, le=9999)
    variant_notes: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=16
    )
    prompts: list[Annotated[str, Field(min_length=1, max_length=32000)]] = Field(
        default_factory=list, max_length=MAX_COUNT
    )
    overwrite: bool = False
    clarify_hints: bool = True
    strict_clarify: bool = False
    allow_no_baseline_on_edit_intent: bool = False

    @field_validator("request_id")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        if value is not None and not REQUEST_ID.fullmatch(value):
            raise ValueError("use letters, digits and . _ : @ - only, starting with a letter or digit")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and (not PREFIX.fullmatch(value) or value != value.strip()):
            raise ValueError("a file-name prefix: letters, digits, . _ - and spaces, no slashes, not starting with '.'")
        return value

    @model_validator(mode="after")
    def _notes_fit(self) -> EnqueueRequest:
        if self.prompts:
            if self.count not in (1, len(self.prompts)):
                raise ValueError(f"count={self.count} with {len(self.prompts)} prompts: pass one of them")
            self.count = len(self.prompts)
        if len(self.variant_notes) > self.count:
            raise ValueError(f"{len(self.variant_notes)} variant_notes for count={self.count}: give at most one each")
        return self

    def variant_prompt(self, i: int) -> str:
        """Job ``i``'s prompt (0-based): prompts[i] (after the shared prompt), or the shared prompt plus that
        variant's own note, if any."""
        if self.prompts:
            return "\n\n".join(p for p in (self.prompt.strip(), self.prompts[i]) if p)
        if i < len(self.variant_notes):
            return f"{self.prompt.rstrip()}\n\nVariant {self.start_index + i}: {self.variant_notes[i]}"
        return self.prompt

    def payload(self) -> dict[str, Any]:
        """What defines the request (not its id): the arguments that differ from their defaults."""
        return self.model_dump(mode="json", exclude={"request_id", "n"}, exclude_defaults=True)

    def options(self) -> dict[str, Any]:
        """The generation and lint options, for the manifest."""
        return self.model_dump(mode="json", exclude={*QUEUE_KEYS, "prompt", "n"})

    def generate_request(self, out: str) -> GenerateRequest:
        """One job's request for the pipeline: these options, one image, written to ``out``."""
        fields = self.model_dump(include=set(GenerateOptions.model_fields) - {"n"})
        return GenerateRequest(**fields, n=1, out=out, overwrite=self.overwrite)

    def lint_options(self) -> LintOptions:
        return LintOptions(self.clarify_hints, self.strict_clarify, self.allow_no_baseline_on_edit_intent)


# enqueue_images' ``options``: the arguments of the queued operation's tool beyond the shared ones.
OPERATION_OPTIONS = {
    "generate": frozenset({"references", "consistency", "negative_prompt", "seed", "background", "output_format"}),
    "edit": frozenset({"image", "mode", "mask", "mask_box", "expand", "style_image", "references", "consistency",
                       "strength", "negative_prompt", "seed"}),
    "upscale": frozenset({"image", "mode", "scale", "seed"}),
}  # fmt: skip


def operation_fields(operation: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """``operation`` + ``options`` of ``enqueue_images`` as request fields; unknown options refused by name."""
    options = dict(options or {})
    allowed = OPERATION_OPTIONS.get(operation)
    if allowed is None:
        raise RequestError(f"operation {operation!r} is not one of generate, edit, upscale", "pass one of them")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise RequestError(
            f"options {', '.join(unknown)} not used by operation {operation}; nothing was enqueued",
            f"{operation} takes: {', '.join(sorted(allowed))}",
        )
    mode = options.pop("mode", None)
    if operation == "edit":
        return {**options, "operation": mode or "edit"}
    if operation == "upscale":
        return {**options, "operation": "upscale", "upscale_mode": mode}
    return options


def parse_request(**arguments: Any) -> EnqueueRequest:
    """:class:`EnqueueRequest` from keyword arguments; a :class:`RequestError` naming each bad one."""
    try:
        return EnqueueRequest(**arguments)
    except ValidationError as exc:
        raise RequestError(f"invalid arguments, nothing was enqueued: {problems(exc)}", _FIX_ARGS) from None


_FIX_ARGS = "correct the argument and call again (count is 1-16; request_id is 1-128 characters)"


def canonical_sha(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Plan:
    sha: str
    out_dir: Path
    prefix: str
    targets: list[str]
    manifest: Path


async def enqueue(services: Services, queue: JobStore, req: EnqueueRequest) -> EnqueueResult:
    """Validate ``req`` completely, store its jobs in one transaction, write the manifest."""
    settings = services.settings
    planned = await anyio.to_thread.run_sync(_plan, settings, queue, req)
    if isinstance(planned, EnqueueResult):
        return planned  # the same request_id and payload: the same jobs
    hints = await validate(services, req, planned.targets[0])
    result = await anyio.to_thread.run_sync(_store, settings, queue, req, planned, hints)
    if services.objects is not None and result.manifest:  # team shape: the manifest in the bucket too
        manifest = Path(result.manifest)
        data = await anyio.to_thread.run_sync(manifest.read_bytes)
        await anyio.to_thread.run_sync(
            publish, services.objects, "images", settings.output_dir, manifest, data, "application/json"
        )
    return result


async def validate(services: Services, req: EnqueueRequest, first_target: str) -> list[Hint]:
    """Everything the pipeline would refuse, found now (a dry run: nothing is sent); the hints."""
    # The dry run builds the provider chain too: no configured provider (or an unconfigured pinned one)
    # is refused here, before any job exists.
    first = req.generate_request(first_target).model_copy(update={"prompt": req.variant_prompt(0)})
    dry = await generate(services, first, dry_run=True, lint_options=req.lint_options())
    return dry.hints


def _plan(settings: Settings, queue: JobStore, req: EnqueueRequest) -> _Plan | EnqueueResult:
    sha = canonical_sha(req.payload())
    if req.request_id is not None:
        found = queue.find_request(req.request_id)
        if found is not None:
            if found[0] != sha:
                raise request_id_conflict(req.request_id)
            return _existing(settings, queue, req.request_id, found[1], found[2])
    root = settings.output_dir.resolve()
    # out_dir is checked like out (a folder that can be created and written, with room) before
    # anything is stored: a job committed with an unusable out_dir would bill, then fail.
    store.check_target(root, req.out_dir or ".", arg="out_dir", min_free_bytes=settings.min_free_bytes)
    out_dir = store.contained(root, req.out_dir or ".", arg="out_dir")
    rel_dir = out_dir.relative_to(root).as_posix()
    prefix = req.prefix or store.default_stem(req.prompt or (req.prompts[0] if req.prompts else ""))
    numbers = range(req.start_index, req.start_index + req.count)
    targets = [f"{prefix}-{i:02d}" if rel_dir == "." else f"{rel_dir}/{prefix}-{i:02d}" for i in numbers]
    return _Plan(sha, out_dir, prefix, targets, out_dir / f"{prefix}-manifest.json")


def _store(settings: Settings, queue: JobStore, req: EnqueueRequest, plan: _Plan, hints: list[Hint]) -> EnqueueResult:
    if not req.overwrite:
        _refuse_taken(settings.output_dir.resolve(), plan.targets, plan.manifest)
    lint = {k: getattr(req, k) for k in LINT_KEYS}

    def spec(i: int) -> dict[str, Any]:
        request = req.generate_request(plan.targets[i]).model_copy(update={"prompt": req.variant_prompt(i)})
        return {"request": request.model_dump(mode="json", exclude={"out"}), "lint": lint}

    request_id = req.request_id or new_id("r")
    info = {
        "out_dir": str(plan.out_dir),
        "prefix": plan.prefix,
        "manifest": str(plan.manifest),
        "hints": [h.model_dump(mode="json") for h in hints],
    }
    new = [NewJob(index=req.start_index + i, target=t, spec=spec(i)) for i, t in enumerate(plan.targets)]
    jobs, created = queue.enqueue(request_id, plan.sha, req.payload(), info, new, check_targets=not req.overwrite)
    if not created:  # the same request_id won a race with this call
        found = queue.find_request(request_id)
        assert found is not None
        return _existing(settings, queue, request_id, found[1], found[2])
    write_json_atomic(plan.manifest, manifest_for(request_id, req, info, jobs, settings.output_dir.resolve()))
    return _result(settings, request_id, info, jobs, deduplicated=False)


def _refuse_taken(root: Path, targets: list[str], manifest: Path) -> None:
    for target in targets:
        for suffix in (".png", ".jpg", ".jpeg", ".webp", ".gif"):
            path = root / f"{target}{suffix}"
            if path.exists():
                raise RequestError(
                    f"{path} already exists; nothing was enqueued",
                    "pass another prefix (or out_dir), or overwrite=true to replace those files",
                    code="target_taken",
                )
    if manifest.exists():
        raise RequestError(
            f"{manifest} already exists (an earlier request used this prefix); nothing was enqueued",
            "pass another prefix (or out_dir), or overwrite=true",
            code="target_taken",
        )


def _existing(
    settings: Settings, queue: JobStore, request_id: str, payload: dict[str, Any], info: dict[str, Any]
) -> EnqueueResult:
    jobs = queue.for_request(request_id)
    manifest = Path(info["manifest"])
    if not manifest.exists():  # a crash came between the commit and the manifest: write it now
        req = EnqueueRequest(**payload, request_id=request_id)
        write_json_atomic(manifest, manifest_for(request_id, req, info, jobs, settings.output_dir.resolve()))
    return _result(settings, request_id, info, jobs, deduplicated=True)


def _result(
    settings: Settings, request_id: str, info: dict[str, Any], jobs: list[Job], *, deduplicated: bool
) -> EnqueueResult:
    root = settings.output_dir.resolve()
    return EnqueueResult(
        request_id=request_id,
        jobs=[EnqueuedJob(job_id=j.job_id, index=j.index, status=j.status, out=str(root / j.target)) for j in jobs],
        hints=[Hint(**h) for h in info.get("hints", [])],
        deduplicated=deduplicated,
        manifest=info["manifest"],
        out_dir=info["out_dir"],
        prefix=info["prefix"],
    )


def manifest_for(
    request_id: str, req: EnqueueRequest, info: dict[str, Any], jobs: list[Job], root: Path
) -> dict[str, Any]:
    return {
        "imagegen_manifest": MANIFEST_VERSION,
        "request_id": request_id,
        "created_at": iso(time.time()),
        "prompt": req.prompt,
        "count": req.count,
        "prompts": req.prompts,
        "out_dir": req.out_dir,
        "prefix": info["prefix"],
        "options": req.options(),
        "start_index": req.start_index,
        "variant_notes": req.variant_notes,
        "baseline": {
            "image": req.baseline_image,
            "source_kind": req.baseline_source_kind,
            "constraints": {
                k: getattr(req, k) for k in ("variation_strength", "must_keep", "lock_palette", "lock_composition")
            },
        }
        if req.baseline_image
        else None,
        "variants": [
            {
                "index": j.index,
                "job_id": j.job_id,
                "target": str(root / j.target),
                "relative": j.target,
                "delta": _note(req, j.index - req.start_index),
            }
            for j in jobs
        ],
    }


def _note(req: EnqueueRequest, i: int) -> str | None:
    return req.variant_notes[i] if 0 <= i < len(req.variant_notes) else None


def request_from_manifest(path: Path, **overrides: Any) -> EnqueueRequest:
    """An :class:`EnqueueRequest` that repeats a manifest (``overrides`` replace its values)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RequestError(f"cannot read the manifest {path}: {exc}", "pass a <prefix>-manifest.json file") from None
    if not isinstance(data, dict) or data.get("imagegen_manifest") != MANIFEST_VERSION:
        raise RequestError(f"{path} is not an imagegen-mcp manifest", "pass a <prefix>-manifest.json file")
    arguments = {"prompt": data.get("prompt"), "count": data.get("count"), "out_dir": data.get("out_dir", "")}
    arguments["prefix"] = data.get("prefix")
    for key in ("start_index", "variant_notes", "prompts"):
        if data.get(key):
            arguments[key] = data[key]
    options: dict[str, Any] = data["options"] if isinstance(data.get("options"), dict) else {}
    arguments.update({k: v for k, v in options.items() if k in EnqueueRequest.model_fields and k not in QUEUE_KEYS})
    arguments.update({k: v for k, v in overrides.items() if v is not None})
    return parse_request(**arguments)


# --------------------------------------------------------------------------- status


def status(
    settings: Settings,
    queue: JobStore,
    *,
    job_ids: list[str] | None = None,
    request_id: str | None = None,
    limit: int = 20,
) -> QueueStatusResult:
    """Jobs by id, by request, or the most recent ones; with totals. Unknown ids are an error."""
    jobs = jobs_named(queue, job_ids, request_id) if job_ids or request_id else queue.recent(limit)
    views = [job_view(settings, j) for j in jobs]
    return QueueStatusResult(
        jobs=views,
        totals=totals_of(views),
        queue=QueueTotals(**queue.totals()),
        finished=all(v.status in ("succeeded", "failed", "cancelled") for v in views),
    )


def jobs_named(queue: JobStore, job_ids: list[str] | None, request_id: str | None) -> list[Job]:
    """The jobs ``job_ids`` or ``request_id`` name (exactly one of them); unknown ones are an error."""
    if job_ids and request_id:
        raise RequestError("pass job_ids or request_id, not both", "call again with one of them")
    if job_ids:
        jobs = queue.get(list(dict.fromkeys(job_ids)))
        missing = sorted(set(job_ids) - {j.job_id for j in jobs})
        if missing:
            raise RequestError(
                f"unknown job id(s): {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}",
                "use the job ids enqueue_images returned, or call queue_status without arguments to list recent jobs",
                code="unknown_job",
            )
    elif request_id:
        jobs = queue.for_request(request_id)
        if not jobs:
            raise RequestError(
                f"unknown request_id {request_id!r}",
                "use the request_id enqueue_images returned, or call queue_status without arguments",
                code="unknown_request",
            )
    else:
        raise RequestError("pass job_ids or request_id", "call again with the ids enqueue_images returned")
    return jobs


def cancel(queue: JobStore, *, job_ids: list[str] | None = None, request_id: str | None = None) -> CancelResult:
    """``cancel_jobs``: queued jobs end ``cancelled`` now, running ones are asked to stop (see
    :meth:`~imagegen_mcp.queue.sqlstore.SqlJobStore.cancel`); each job's status after the call."""
    named = jobs_named(queue, job_ids, request_id)
    jobs = queue.cancel([j.job_id for j in named])
    was = {j.job_id: j.status for j in named}
    for job in jobs:
        if job.status == "cancelled" and was[job.job_id] == "queued":  # ended by this call: its receipt now
            try:
                queue.write_receipt(job)
            except ImagegenError as exc:  # the worker's housekeeping writes it later
                log.warning("%s: receipt not written yet (%s)", job.job_id, exc)
    return CancelResult(jobs=[CancelledJob(job_id=j.job_id, status=j.status) for j in jobs])


def cancel_summary(result: CancelResult) -> str:
    counts: dict[str, int] = {}
    for j in result.jobs:
        counts[j.status] = counts.get(j.status, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in counts.items())
    stopping = counts.get("running", 0)
    tail = " Running jobs are being stopped; queue_status shows when they end cancelled." if stopping else ""
    return f"{len(result.jobs)} job(s): {parts}.{tail}"


def job_view(settings: Settings, job: Job) -> JobView:
    result = job.result or {}
    request = job.spec.get("request", {})
    waiting = job.status == "queued" and job.not_before > time.time()
    return JobView(
        job_id=job.job_id,
        request_id=job.request_id,
        index=job.index,
        status=job.status,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        lost_leases=job.lost_leases,
        prompt=request.get("prompt", ""),
        out=str(settings.output_dir.resolve() / job.target),
        images=[SavedImage(**i) for i in result.get("images", [])],
        error=_error(job.error) if job.status in ("failed", "cancelled") else None,
        last_error=_error(job.last_error) if not job.finished and job.last_error else None,
        model=result.get("model") or request.get("model"),
        provider=result.get("provider") or request.get("provider"),
        generation_id=result.get("generation_id"),
        cost_usd=job.cost_usd,
        created_at=iso(job.created_at) or "",
        started_at=iso(job.started_at),
        finished_at=iso(job.finished_at),
        next_attempt_at=iso(job.not_before) if waiting else None,
        queued_s=None if job.started_at is None else round(job.started_at - job.created_at, 3),
        run_s=None if job.started_at is None or job.finished_at is None else round(job.finished_at - job.started_at, 3),
    )


def _error(data: dict[str, Any] | None) -> JobError | None:
    if not data:
        return None
    return JobError(
        code=str(data.get("code", "error")),
        message=str(data.get("message", "")),
        fix=str(data.get("fix", "")),
        error_class=data.get("error_class"),
    )


def totals_of(views: list[JobView]) -> QueueTotals:
    t = QueueTotals()
    for v in views:
        setattr(t, v.status, getattr(t, v.status) + 1)
        t.cost_usd += v.cost_usd or 0.0
    t.cost_usd = round(t.cost_usd, 8)
    return t


# --------------------------------------------------------------------------- text


def enqueue_summary(result: EnqueueResult) -> str:
    noun = "job" if len(result.jobs) == 1 else "jobs"
    again = " (already enqueued: same request_id and payload, nothing new)" if result.deduplicated else ""
    hints = ""
    if result.hints:
        hints = " Prompt hints: " + "; ".join(f"[{h.rule}] {h.fix}" for h in result.hints[:3]) + "."
    first, last = result.jobs[0], result.jobs[-1]
    names = Path(first.out).name + (f" … {Path(last.out).name}" if len(result.jobs) > 1 else "")
    return (
        f"Enqueued {len(result.jobs)} {noun} as request {result.request_id}{again}: {names} in {result.out_dir}. "
        f"Call queue_status with request_id={result.request_id!r} (wait_s up to 50) to follow them and get the "
        f"images.{hints}"
    )


def status_summary(result: QueueStatusResult) -> str:
    t = result.totals
    parts = [f"{n} {s}" for s, n in (("succeeded", t.succeeded), ("failed", t.failed), ("running", t.running),
                                     ("queued", t.queued), ("cancelled", t.cancelled)) if n]  # fmt: skip
    head = f"{len(result.jobs)} job(s): {', '.join(parts) or 'none'} · ${t.cost_usd:.4f} so far"
    if not result.finished and result.waited_s:
        head += f" (waited {result.waited_s:.1f} s; call again to keep waiting)"
    lines = [head]
    for v in result.jobs:
        line = f"{v.job_id} #{v.index:02d} {v.status}"
        if v.images:
            line += " " + ", ".join(i.path for i in v.images)
        elif v.status in ("queued", "running"):
            line += f" → {v.out}.*"
        if v.attempts > 1 or v.last_error:
            lost = f", {v.lost_leases} lost to stopped workers" if v.lost_leases else ""
            line += f" (attempt {v.attempts - v.lost_leases}/{v.max_attempts}{lost})"
        if v.error:
            line += f": {v.error.message} — {v.error.fix}"
        elif v.last_error:
            line += f"; last error: {v.last_error.message}"
        lines.append(line)
    return "\n".join(lines)
