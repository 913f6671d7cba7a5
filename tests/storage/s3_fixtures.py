"""A real S3-speaking server on loopback (moto in server mode) and a fresh bucket per test.

moto's server is the S3 REST API over real HTTP: boto3 signs, sends and parses exactly as it would
against AWS or MinIO. No test touches the internet. ``s3_env`` is the environment a team-shape
server gets (``IMAGEGEN_STORAGE_URL`` and the standard ``AWS_*`` variables).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

S3_SECRET = "s3-secret-never-shown-0123456789"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3", reason="the S3 storage needs the 's3' extra: pip install -e '.[dev,s3]'")
    server_mod = pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (the test extra)")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str) -> dict[str, str]:
    """Variables for a new, empty bucket with a prefix."""
    import boto3

    bucket = f"imagegen-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="AKIDTEST", aws_secret_access_key=S3_SECRET,
    )  # fmt: skip
    client.create_bucket(Bucket=bucket)
    return {
        "IMAGEGEN_STORAGE_URL": f"s3://{bucket}/team",
        "IMAGEGEN_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }
