"""The S3-compatible bucket of the team shape (AWS S3, MinIO, R2, Ceph, moto…), through boto3.

boto3 because it is the reference S3 client (signing v4, retries, virtual-host vs path style,
presigning, every S3-compatible service tests against it); imported here only, and this module is
imported only when ``IMAGEGEN_STORAGE_URL`` names a bucket (the ``team`` extra installs it).

Foreign errors are translated at one boundary, :func:`_translate`, into :class:`StorageError`
with a fix naming the variable to change. boto's own messages never carry the secret key; they are
redacted with the configured secrets all the same where they reach a client.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from imagegen_mcp.errors import StorageError
from imagegen_mcp.models import PreflightCheck
from imagegen_mcp.storage.objects import Area, StorageConfig

_FIX_CREDENTIALS = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the bucket in IMAGEGEN_STORAGE_URL"
_FIX_ENDPOINT = "check IMAGEGEN_S3_ENDPOINT_URL (and that the S3 service is running)"


class S3Store:
    """One bucket and prefix; one boto3 client per process (thread-safe for these calls)."""

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        self._client: Any = None
        self._lock = threading.Lock()

    def key(self, area: Area, rel: str) -> str:
        rel = rel.lstrip("/")
        if not rel or ".." in rel.split("/"):
            raise StorageError(f"{rel!r} is not a storage key", "use a path inside the output or queue directory")
        return "/".join(p for p in (self.config.prefix, area, rel) if p)

    def put(self, area: Area, rel: str, data: bytes, content_type: str) -> None:
        key = self.key(area, rel)
        with _translate(f"could not store {key} in {self.config.url}"):
            self._s3().put_object(Bucket=self.config.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, area: Area, rel: str, max_bytes: int) -> bytes | None:
        key = self.key(area, rel)
        with _translate(f"could not read {key} from {self.config.url}"):
            try:
                answer = self._s3().get_object(Bucket=self.config.bucket, Key=key)
            except Exception as exc:  # NoSuchKey arrives as a ClientError with that code
                if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            too_large = int(answer.get("ContentLength") or 0) > max_bytes
            data: bytes = b"" if too_large else answer["Body"].read(max_bytes + 1)
            answer["Body"].close()
            if too_large or len(data) > max_bytes:
                raise StorageError(
                    f"{key} in {self.config.url} is larger than {max_bytes} bytes",
                    "read images made by this server only",
                )
            return data

    def link(self, area: Area, rel: str) -> str | None:
        if not self.config.presign_s:
            return None
        with _translate(f"could not sign a link for {rel}"):
            url: str = self._s3().generate_presigned_url(
                "get_object",
                Params={"Bucket": self.config.bucket, "Key": self.key(area, rel)},
                ExpiresIn=self.config.presign_s,
            )
            return url

    def check(self) -> list[PreflightCheck]:
        """The bucket answers, and a probe object can be written and removed (then it is writable)."""
        name = "storage"
        probe = self.key("queue", f".preflight-{uuid.uuid4().hex}")
        try:
            with _translate(f"{self.config.url} is not reachable"):
                self._s3().head_bucket(Bucket=self.config.bucket)
        except StorageError as exc:
            return [PreflightCheck(name=name, ok=False, detail=exc.message, fix=exc.fix)]
        try:
            with _translate(f"{self.config.url} is not writable"):
                self._s3().put_object(Bucket=self.config.bucket, Key=probe, Body=b"ok")
                self._s3().delete_object(Bucket=self.config.bucket, Key=probe)
        except StorageError as exc:
            return [PreflightCheck(name=name, ok=False, detail=exc.message, fix=exc.fix)]
        links = f"; https links valid {self.config.presign_s} s" if self.config.presign_s else ""
        return [PreflightCheck(name=name, ok=True, detail=f"{self.config.url} reachable and writable{links}")]

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                c = self.config
                self._client = boto3.client(
                    "s3",
                    endpoint_url=c.endpoint_url,
                    region_name=c.region or "us-east-1",
                    aws_access_key_id=c.access_key_id,
                    aws_secret_access_key=c.secret_access_key,
                    aws_session_token=c.session_token,
                    config=Config(
                        signature_version="s3v4",  # presigned links too (boto3 presigns v2 otherwise)
                        connect_timeout=5,
                        read_timeout=30,
                        retries={"max_attempts": 3, "mode": "standard"},
                        # Path-style works with every S3-compatible service (MinIO, moto, Ceph) behind
                        # a custom endpoint; AWS itself gets virtual-host style.
                        s3={"addressing_style": "path" if c.endpoint_url else "auto"},
                    ),
                )
            return self._client


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


@contextmanager
def _translate(what: str) -> Iterator[None]:
    """botocore's errors → :class:`StorageError` with a fix; everything else passes through."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    try:
        yield
    except StorageError:
        raise
    except (NoCredentialsError, PartialCredentialsError):
        raise StorageError(f"{what}: no S3 credentials", _FIX_CREDENTIALS) from None
    except EndpointConnectionError:
        raise StorageError(f"{what}: the S3 endpoint does not answer", _FIX_ENDPOINT) from None
    except ClientError as exc:
        code = _code(exc)
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken"):
            raise StorageError(f"{what}: access denied ({code})", _FIX_CREDENTIALS) from None
        if code in ("NoSuchBucket", "404", "NotFound"):
            raise StorageError(
                f"{what}: no such bucket", "create the bucket, or fix the bucket name in IMAGEGEN_STORAGE_URL"
            ) from None
        raise StorageError(f"{what}: S3 answered {code or 'an error'}", _FIX_ENDPOINT) from None
    except BotoCoreError as exc:
        raise StorageError(f"{what}: {type(exc).__name__}", _FIX_ENDPOINT) from None
