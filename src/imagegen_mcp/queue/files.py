"""Where a queued job's images are made, and how they reach their final names crash-safely.

A job generates through the one pipeline into its own staging folder,
``<output dir>/.imagegen-staging/<job_id>/``, then links each file to its final name
(``<out_dir>/<prefix>-NN.<real suffix>``) and only then is marked done. Every step is atomic and
can be repeated, so a worker killed at any moment leaves a state the next attempt converges from:

- killed while the provider works: the staging folder holds at most ``*.tmp`` leftovers; they are
  deleted and the job is generated again (its lease had to expire, or its process had to be gone);
- killed after the image was saved in staging: the next attempt **adopts** the staged image (and the
  ``result.json`` written beside it, with model, generation id and cost) instead of paying again;
- killed after linking the final name: the link is found holding the same bytes and is kept, so a
  retried job converges to its own name instead of ``-2``.

Staging folders of finished jobs are removed; no ``*.tmp`` file is left in the output directory.

When saving fails after the provider billed (a full disk), the pipeline keeps the bytes in a
recovery folder (:mod:`imagegen_mcp.storage.recovery`); the worker records that folder in the
job's last error and retries the job for storage only: :func:`restore` puts the kept images into
the staging folder (no provider call) and they are placed as usual.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imagegen_mcp.errors import StorageError
from imagegen_mcp.imaging import codec
from imagegen_mcp.queue.sqlite import fsync_dir, write_json_atomic
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage import recovery
from imagegen_mcp.storage.objects import ObjectStore
from imagegen_mcp.storage.objects import publish as objects_publish
from imagegen_mcp.storage.registry import GeneratedImages

STAGING = ".imagegen-staging"
SIDECAR = "result.json"
IMAGE_SUFFIXES = frozenset({*codec.MIME_EXT.values(), ".jpeg"})
# What write_json_atomic leaves when its writer (``enqueue``) is killed: ``.<prefix>-manifest.json.<8 hex>.tmp``.
MANIFEST_TMP = re.compile(r"\..+-manifest\.json\.[0-9a-f]{8}\.tmp")


def staging_dir(output_dir: Path, job_id: str) -> Path:
    return output_dir.resolve() / STAGING / job_id


def staging_out(job_id: str) -> str:
    """The pipeline's ``out`` for a job: a file named ``image`` (+ real suffix) in its staging folder."""
    return f"{STAGING}/{job_id}/image"


def prepare(stage: Path) -> None:
    """Create a job's staging folder (before generating into it).

    Another worker removes the staging root when its own job leaves it empty; creating the folder
    first, and retrying if the root vanished in between, keeps that from pulling it away mid-save.
    """
    for attempt in range(10):
        try:
            stage.mkdir(parents=True, exist_ok=True)
            return
        except FileNotFoundError:
            if attempt == 9:
                raise StorageError(f"could not create {stage}", "check that IMAGEGEN_OUTPUT_DIR is writable") from None
        except OSError as exc:
            raise StorageError(
                f"could not create {stage}: {exc.strerror or exc}",
                "check that IMAGEGEN_OUTPUT_DIR exists and is writable (run the preflight tool)",
            ) from exc


def clean_partial(stage: Path) -> None:
    """Delete leftovers of an interrupted attempt (temp files, images without a result)."""
    if stage.is_dir():
        for p in stage.iterdir():
            if p.is_file():
                p.unlink(missing_ok=True)


def recover(output_dir: Path, stage: Path, provider: str | None) -> dict[str, Any] | None:
    """The result a dead worker already paid for: its sidecar, or its staged images; else None."""
    if not stage.is_dir():
        return None
    sidecar = stage / SIDECAR
    if sidecar.is_file():
        try:
            result: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        paths = [Path(i.get("path", "")) for i in result.get("images", []) if isinstance(i, dict)]
        if paths and all(p.is_file() for p in paths):
            result["recovered"] = True
            return result
    staged = sorted(p for p in stage.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not staged:
        return None
    root = output_dir.resolve()
    saved = []
    for p in staged:
        facts = codec.inspect(p.read_bytes())
        saved.append(
            {
                "path": str(p),
                "uri": store.image_uri(root, p),
                "mime_type": facts.mime_type,
                "width": facts.width,
                "height": facts.height,
                "bytes": facts.size,
                "sha256": facts.sha256,
            }
        )
    return {
        "images": saved,
        "model": None,
        "provider": provider,
        "generation_id": None,
        "cost_usd": None,
        "elapsed_s": 0.0,
        "hints": [],
        "recovered": True,
    }


def restore(output_dir: Path, stage: Path, folder: Path, registry: GeneratedImages) -> dict[str, Any]:
    """Stage the images a billed attempt kept in ``folder``; the result to place (its cost already counted).

    Raises :class:`StorageError` while they still cannot be written (the job is retried again).
    """
    try:
        images, meta = recovery.load(folder)
    except (OSError, ValueError) as exc:
        raise StorageError(
            f"cannot read the recovered images in {folder}: {exc}",
            "check that folder; the job cannot finish without it",
        ) from exc
    prepare(stage)
    root = output_dir.resolve()
    saved = []
    for i, data in enumerate(images):
        facts = codec.inspect(data)
        name = "image" if i == 0 else f"image-{i + 1}"
        final = store.save_atomic(stage / f"{name}{codec.MIME_EXT[facts.mime_type]}", data, overwrite=True)
        registry.add(facts.sha256, str(final))
        saved.append(
            {
                "path": str(final),
                "uri": store.image_uri(root, final),
                "mime_type": facts.mime_type,
                "width": facts.width,
                "height": facts.height,
                "bytes": facts.size,
                "sha256": facts.sha256,
            }
        )
    result = {
        "images": saved,
        "model": meta.get("model"),
        "provider": meta.get("provider"),
        "generation_id": meta.get("generation_id"),
        "cost_usd": meta.get("cost_usd"),
        "elapsed_s": 0.0,
        "hints": [],
        "recovered": True,
        "cost_recorded": True,  # the failed attempt that kept these recorded what was billed
    }
    write_sidecar(stage, result)
    return result


def write_sidecar(stage: Path, result: dict[str, Any]) -> None:
    """The provider's result beside the staged image (model, generation id, cost) for adoption.

    Not fsynced: it only enriches a recovery, and without it the staged image is still adopted.
    """
    write_json_atomic(stage / SIDECAR, result, durable=False)


def place(output_dir: Path, job_id: str, target: str, result: dict[str, Any], *, overwrite: bool) -> dict[str, Any]:
    """Link each staged image to ``<target>[-N].<suffix>``; return the result with the final paths."""
    root = output_dir.resolve()
    placed = []
    dirs: set[Path] = set()
    for i, image in enumerate(result.get("images", [])):
        staged = Path(image["path"])
        stem = target if i == 0 else f"{target}-{i + 1}"
        final = store.contained(root, stem + staged.suffix)
        final = _link(staged, final, job_id, image.get("sha256", ""), overwrite)
        dirs.add(final.parent)
        placed.append({**image, "path": str(final), "uri": store.image_uri(root, final)})
    for d in dirs:
        fsync_dir(d)
    return {**result, "images": placed}


def publish(objects: ObjectStore, output_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Share each placed image through the team shape's bucket; the result with each image's link."""
    root = output_dir.resolve()
    shared = []
    for image in result.get("images", []):
        path = Path(image["path"])
        url = objects_publish(objects, "images", root, path, path.read_bytes(), image.get("mime_type", "image/png"))
        shared.append({**image, "url": url})
    return {**result, "images": shared}


def _link(staged: Path, final: Path, job_id: str, sha256: str, overwrite: bool) -> Path:
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            tmp = final.with_name(f".{final.name}.{job_id}.tmp")
            tmp.unlink(missing_ok=True)
            _hardlink(staged, tmp)
            os.replace(tmp, final)
            return final
        for n in range(1, 1000):
            candidate = final if n == 1 else final.with_name(f"{final.stem}-{n}{final.suffix}")
            try:
                _hardlink(staged, candidate)
                return candidate
            except FileExistsError:
                if _same(candidate, staged, sha256):
                    return candidate  # linked by an earlier attempt of this job that died before finishing
    except OSError as exc:
        raise StorageError(
            f"could not save {final}: {exc.strerror or exc}",
            "check that IMAGEGEN_OUTPUT_DIR is writable and has space (run the preflight tool)",
        ) from exc
    raise StorageError(f"no free file name near {final}", "pass another prefix, or overwrite=true", code="target_taken")


def _hardlink(src: Path, dst: Path) -> None:
    """Link, or copy-then-link when the staging folder is on another filesystem (a mount inside)."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        tmp = dst.with_name(f".{dst.name}.copy.tmp")
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        try:
            os.link(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)


def _same(a: Path, b: Path, sha256: str) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        return bool(sha256) and hashlib.sha256(a.read_bytes()).hexdigest() == sha256
    except OSError:
        return False


def discard(stage: Path) -> None:
    """Remove a finished job's staging folder (and the staging root once it is empty)."""
    shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):
        stage.parent.rmdir()


def sweep(output_dir: Path, lookup: Callable[[list[str]], dict[str, bool]], *, min_age_s: float) -> int:
    """Remove staging folders of finished jobs, and of jobs this queue does not know once ``min_age_s`` old.

    ``lookup`` maps the job ids it knows to whether they have finished.
    """
    root = output_dir.resolve() / STAGING
    if not root.is_dir():
        return 0
    folders = [p for p in root.iterdir() if p.is_dir()]
    known = lookup([p.name for p in folders])
    removed = 0
    now = time.time()
    for p in folders:
        finished = known.get(p.name)
        if finished is False:
            continue
        if finished is None:
            try:
                if now - p.stat().st_mtime < min_age_s:
                    continue
            except OSError:
                continue
        shutil.rmtree(p, ignore_errors=True)
        removed += 1
    with contextlib.suppress(OSError):
        root.rmdir()
    return removed


def sweep_manifest_temps(output_dir: Path, folders: list[Path], *, min_age_s: float) -> int:
    """Delete manifest temp files a killed ``enqueue`` left in ``folders``: only that exact name
    pattern, only regular files at least ``min_age_s`` old, only inside the output directory."""
    root = output_dir.resolve()
    removed = 0
    now = time.time()
    for folder in {f.resolve() for f in folders}:
        if not folder.is_relative_to(root) or not folder.is_dir():
            continue
        for p in folder.glob(".*-manifest.json.*.tmp"):
            if not MANIFEST_TMP.fullmatch(p.name):
                continue
            try:
                st = p.lstat()
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= min_age_s:
                    p.unlink()
                    removed += 1
            except OSError:
                continue
    return removed
