"""Where billed images go when they cannot be saved where they were asked for (design decision 5).

Everything that can be checked is checked before the provider is called (see
:func:`imagegen_mcp.storage.local.check_target`), but a disk can still fill up, or a folder be
replaced, while the provider works. The images are then already paid for, so they are kept:

- ``<queue dir>/recovery/<stamp>-<token>/`` first (the queue directory is often on another disk
  than the output directory, and it is where ``imagegen-mcp`` keeps its own state);
- else ``<temp dir>/imagegen-recovery-<uid>/<stamp>-<token>/`` (a per-user folder, mode 0700).

Each folder holds ``image-1.png`` … (the provider's bytes unchanged) and ``result.json`` (model,
provider, generation id, cost, the target that failed, the error). The error the caller gets says
what was billed and where the files are. A queued job keeps the folder's path in its last error
and is retried for storage only (no new provider call) until saving works; a folder is removed once
its images are saved. Folders from direct calls stay until the user moves the files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imagegen_mcp.imaging import codec

META = "result.json"


def keep(images: Sequence[bytes], meta: dict[str, Any], *, queue_dir: Path) -> Path | None:
    """Write ``images`` and ``meta`` to the first recovery folder that takes them; None if none does."""
    for base in (queue_dir / "recovery", _user_temp()):
        if base is None:
            continue
        folder = base / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.mkdir(mode=0o700)
            for i, data in enumerate(images):
                _write(folder / f"image-{i + 1}{_suffix(data)}", data)
            _write(folder / META, json.dumps(meta, indent=2, default=str).encode())
            return folder
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
    return None


def load(folder: Path) -> tuple[list[bytes], dict[str, Any]]:
    """The images (in order) and the metadata kept in ``folder``. Raises ``OSError``/``ValueError``."""
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    files = sorted(
        (p for p in folder.iterdir() if p.name.startswith("image-")), key=lambda p: int(p.stem.split("-")[1])
    )
    return [p.read_bytes() for p in files], meta if isinstance(meta, dict) else {}


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("image-"))


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _suffix(data: bytes) -> str:
    try:
        return codec.MIME_EXT[codec.sniff(data)]
    except Exception:  # keep the bytes whatever they are
        return ".bin"


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _user_temp() -> Path | None:
    """A temp folder only this user owns (never one another user created first)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    base = Path(tempfile.gettempdir()) / f"imagegen-recovery-{uid}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(base)
    except OSError:
        return None
    if hasattr(os, "getuid") and (st.st_uid != uid or not os.path.isdir(base) or os.path.islink(base)):
        return None
    return base
