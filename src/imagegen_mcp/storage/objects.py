"""Where images, receipts and manifests are shared between replicas: the object-store seam.

Two shapes, one rule. On one machine (the default) the output and queue directories are the store
and nothing here is used. In the team shape (``IMAGEGEN_STORAGE_URL=s3://bucket/prefix``) every
replica still writes each file atomically to its own directories first — those are its staging area
and the recovery location for billed bytes — and then *publishes* it to the bucket before the call
or job is reported done. Any replica then serves any ``imagegen://images/…`` uri, receipt or
manifest: from its own disk when it has the file, from the bucket when another replica made it.

Why mirror instead of writing only to the bucket: the atomicity promise ("no half-written file is
ever visible as done") is kept by each side on its own — ``save_atomic`` renames a complete temp
file, and an S3 ``PutObject`` makes an object visible only when all of it arrived — and a bucket
outage after a provider billed leaves the image on disk, named in the error, instead of lost.

Keys: ``<prefix>/images/<path relative to the output dir>``, ``<prefix>/queue/<path relative to the
queue dir>`` (``results/<job>.json``, ``failed/<job>.json``), so the layout in the bucket is the
layout on disk.

Nothing here imports an S3 client; :mod:`imagegen_mcp.storage.s3` does, in that mode only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

from imagegen_mcp.errors import ConfigError
from imagegen_mcp.models import PreflightCheck

Area = Literal["images", "queue"]


@dataclass(frozen=True)
class StorageConfig:
    """``IMAGEGEN_STORAGE_URL`` and its companions, validated (credentials stay out of ``repr``)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    # Seconds a presigned https link in a result stays valid; 0 = no links (clients read over MCP).
    presign_s: int = 0

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret_access_key, self.session_token) if s)


def storage_config(env: Mapping[str, str]) -> StorageConfig | None:
    """The team-shape storage, or None for the default (files in the output directory)."""
    url = env.get("IMAGEGEN_STORAGE_URL", "").strip()
    if not url or url.startswith(("/", "file:")):
        return None  # the output directory itself (the default)
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(
            f"IMAGEGEN_STORAGE_URL={url!r} is not an s3://bucket/prefix url",
            "set IMAGEGEN_STORAGE_URL=s3://your-bucket/optional/prefix, or unset it to keep images in "
            "IMAGEGEN_OUTPUT_DIR",
        )
    endpoint = env.get("IMAGEGEN_S3_ENDPOINT_URL", "").strip() or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ConfigError(
            f"IMAGEGEN_S3_ENDPOINT_URL={endpoint!r} is not an http(s) url",
            "set IMAGEGEN_S3_ENDPOINT_URL to the S3 service's address, e.g. http://minio:9000",
        )
    presign = env.get("IMAGEGEN_S3_PRESIGN_S", "").strip() or "0"
    if not presign.isdigit() or int(presign) > 7 * 86400:
        raise ConfigError(
            f"IMAGEGEN_S3_PRESIGN_S={presign!r} is not a number of seconds between 0 and 604800",
            "set IMAGEGEN_S3_PRESIGN_S=3600 for hour-long https links in results, or 0 for none",
        )

    def var(name: str) -> str | None:
        return env.get(name, "").strip() or None

    return StorageConfig(
        bucket=parts.netloc,
        prefix=parts.path.strip("/"),
        endpoint_url=endpoint,
        region=var("AWS_REGION") or var("AWS_DEFAULT_REGION"),
        access_key_id=var("AWS_ACCESS_KEY_ID"),
        secret_access_key=var("AWS_SECRET_ACCESS_KEY"),
        session_token=var("AWS_SESSION_TOKEN"),
        presign_s=int(presign),
    )


class ObjectStore(Protocol):
    """The bucket every replica shares. Blocking calls: run them in a worker thread."""

    config: StorageConfig

    def put(self, area: Area, rel: str, data: bytes, content_type: str) -> None:
        """Publish one complete object (atomic: invisible until all of it arrived)."""
        ...

    def get(self, area: Area, rel: str, max_bytes: int) -> bytes | None:
        """The object's bytes, or None when there is none; larger than ``max_bytes`` is an error."""
        ...

    def link(self, area: Area, rel: str) -> str | None:
        """A presigned https link for clients outside MCP, or None when links are off."""
        ...

    def check(self) -> list[PreflightCheck]:
        """Reachable and writable, each failing item with a fix."""
        ...


def open_object_store(config: StorageConfig | None) -> ObjectStore | None:
    if config is None:
        return None
    from imagegen_mcp.storage.s3 import S3Store

    return S3Store(config)


def publish(
    objects: ObjectStore | None, area: Area, root: Path, path: Path, data: bytes, content_type: str
) -> str | None:
    """Share a file just saved atomically under ``root`` with every replica; its https link, if links are on.

    A no-op on one machine. Raises :class:`StorageError` when the bucket refuses: the caller reports
    it with the local path, where the bytes are safe.
    """
    if objects is None:
        return None
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    objects.put(area, rel, data, content_type)
    return objects.link(area, rel)


def fetch(objects: ObjectStore | None, area: Area, root: Path, path: Path, max_bytes: int) -> bytes | None:
    """A file another replica published, for a path missing here; None on one machine or when absent."""
    if objects is None:
        return None
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    return objects.get(area, rel, max_bytes)
