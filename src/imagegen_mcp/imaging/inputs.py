"""Input images (``baseline_image``, ``image``, ``mask``, ``style_image``, ``references[]``): resolve a
reference, apply the safety rails, prepare it. Every input image goes through :func:`resolve_baseline`
(``argument`` names it in errors); the rails are the same for all of them.

An input image is one of:

- ``imagegen://images/{id}`` — a file in the output directory;
- an ``https://`` URL — passed through for the provider to fetch (nothing local is uploaded);
- a local path — only a regular file (never a symlink, never under a symlinked directory, never a
  FIFO or device) whose resolved location is inside the allowed roots (the output directory,
  ``IMAGEGEN_WORKSPACE``, and the client's roots where it offers them), whose bytes are PNG, JPEG or
  WebP (judged by content, not extension), no larger than ``IMAGEGEN_MAX_BASELINE_MB`` and no more
  than :data:`~imagegen_mcp.imaging.codec.MAX_PIXELS` pixels. Files are read once, with a bound
  (:func:`~imagegen_mcp.storage.reading.read_regular`).

A local file (by path or by ``imagegen://images/`` uri) is sent to a provider only with
``confirm_external_upload=true``, unless its bytes are an image this server generated: their
sha256 is in the generated-images record (:mod:`imagegen_mcp.storage.registry`). Being in the
output directory is not enough — anyone can put a file (or a hard link to one elsewhere) there.

Every refusal is a :class:`~imagegen_mcp.errors.RequestError` with the fix; nothing is sent.
A baseline larger than providers reliably accept (long edge over 4096 px, or over 8 MiB) is
downscaled to a 2048 px long edge first; ``resolution_policy`` records what was done.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from imagegen_mcp.errors import ImageError, RequestError
from imagegen_mcp.imaging import codec
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage.reading import read_regular
from imagegen_mcp.storage.registry import GeneratedImages

ACCEPTED = ("image/png", "image/jpeg", "image/webp")
MAX_SEND_EDGE = 4096
MAX_SEND_BYTES = 8 * 1024 * 1024
DOWNSCALE_EDGE = 2048


@dataclass(frozen=True)
class Baseline:
    """A baseline ready to send: a data URL (local or generated) or an https URL (passed through)."""

    url: str
    source: str
    origin: Literal["generated", "local", "url"]
    resolution_policy: str
    sha256: str | None = None
    sent_bytes: int | None = None
    data: bytes | None = field(default=None, repr=False)  # the bytes sent (local and generated files)


def resolve_baseline(
    ref: str,
    *,
    output_dir: Path,
    roots: list[Path],
    max_mb: float,
    confirm_external_upload: bool,
    registry: GeneratedImages | None = None,
    argument: str = "baseline_image",
    fit: bool = True,
) -> Baseline:
    """Check ``ref`` against the rails and return what to send. Runs blocking I/O: call in a thread.

    ``registry`` is the record of generated images; without one, every local file needs
    ``confirm_external_upload``. ``argument`` names the input in errors; ``fit=False`` keeps the
    bytes as they are (a mask is resized to its image instead, see :mod:`imaging.masks`).
    """
    ref = ref.strip()
    if not ref:
        raise RequestError(f"{argument} is empty", "pass a file path, an https URL, or an imagegen://images/ uri")
    if ref.startswith("imagegen://images/"):
        path = store.path_for_id(output_dir, ref.removeprefix("imagegen://images/"))
        path = _checked_path(str(path), output_dir=output_dir, roots=[], argument=argument)
        return _local(path, ref, max_mb, registry, confirm_external_upload, argument, fit)
    lowered = ref.lower()
    if lowered.startswith("https://"):
        return Baseline(url=ref, source=ref, origin="url", resolution_policy="https URL passed through to the provider")
    if "://" in ref or lowered.startswith(("data:", "file:")):
        scheme = ref.split(":", 1)[0]
        raise RequestError(
            f"{argument} uses {scheme}:, which is not accepted",
            "pass an https:// URL, a local file path, or an imagegen://images/ uri from an earlier result",
        )
    path = _checked_path(ref, output_dir=output_dir, roots=roots, argument=argument)
    return _local(path, ref, max_mb, registry, confirm_external_upload, argument, fit)


def _checked_path(ref: str, *, output_dir: Path, roots: list[Path], argument: str = "baseline_image") -> Path:
    allowed = [output_dir.resolve(), *(r.resolve() for r in roots)]
    raw = Path(ref).expanduser()
    candidates = [raw] if raw.is_absolute() else [root / raw for root in allowed]
    for candidate in candidates:
        normal = Path(os.path.abspath(candidate))  # folds "..", follows nothing
        if not os.path.lexists(normal):
            continue
        real = normal.resolve()
        if real != normal:
            raise RequestError(
                f"{argument} {ref!r} is or goes through a symbolic link ({normal} → {real})",
                "pass the real path of a regular file inside the allowed folders",
            )
        if not any(_inside(real, root) for root in allowed):
            raise RequestError(
                f"{argument} {real} is outside the allowed folders ({', '.join(map(str, allowed))})",
                "move the file into the output directory or a workspace folder, or add its folder to "
                "IMAGEGEN_WORKSPACE",
            )
        mode = os.lstat(real).st_mode
        if not stat.S_ISREG(mode):
            raise RequestError(f"{argument} {real} is not a regular file", "pass an image file")
        return real
    raise RequestError(
        f"{argument} {ref!r} does not exist"
        + ("" if raw.is_absolute() else f" in any allowed folder ({', '.join(map(str, allowed))})"),
        "check the path; relative paths are looked up in the output directory, then IMAGEGEN_WORKSPACE",
    )


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _local(
    path: Path,
    source: str,
    max_mb: float,
    registry: GeneratedImages | None,
    confirm_external_upload: bool,
    argument: str = "baseline_image",
    fit: bool = True,
) -> Baseline:
    limit = int(max_mb * 1024 * 1024)
    data = read_regular(
        path, max_bytes=limit, what=argument, fix_size="pass a smaller image, or raise IMAGEGEN_MAX_BASELINE_MB"
    )
    generated = registry is not None and registry.contains(hashlib.sha256(data).hexdigest())
    if not generated and not confirm_external_upload:
        raise RequestError(
            f"sending the local file {path} ({argument}) to the image provider needs your confirmation (it is not"
            " an image this server generated)",
            "call again with confirm_external_upload=true if this file may be uploaded to the provider",
        )
    origin: Literal["generated", "local"] = "generated" if generated else "local"
    try:
        mime = codec.sniff(data)
    except ImageError:
        mime = ""
    if mime not in ACCEPTED:
        raise RequestError(
            f"{argument} {path} is not a PNG, JPEG or WebP image (judged by its content, not its name)",
            "pass a PNG, JPEG or WebP file",
        )
    if fit:
        data, mime, policy = fit_for_provider(data, mime, argument=argument)
    else:
        policy = "read as-is"
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return Baseline(url, source, origin, policy, hashlib.sha256(data).hexdigest(), len(data), data)


def fit_for_provider(data: bytes, mime: str, *, argument: str = "baseline_image") -> tuple[bytes, str, str]:
    """The bytes unchanged when providers accept them, else downscaled to a 2048 px long edge."""
    facts = codec.inspect(data, what=argument, fix="pass a smaller PNG, JPEG or WebP image")
    if max(facts.width, facts.height) <= MAX_SEND_EDGE and len(data) <= MAX_SEND_BYTES:
        return data, mime, f"sent as-is ({facts.width}x{facts.height}, {len(data):,} bytes)"
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((DOWNSCALE_EDGE, DOWNSCALE_EDGE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if im.mode in ("RGBA", "LA", "P"):
            im.save(out, "PNG", optimize=True)
            new_mime = "image/png"
        else:
            im.convert("RGB").save(out, "JPEG", quality=90)
            new_mime = "image/jpeg"
        size = im.size
    policy = f"downscaled from {facts.width}x{facts.height} to {size[0]}x{size[1]} (providers reject larger inputs)"
    return out.getvalue(), new_mime, policy
