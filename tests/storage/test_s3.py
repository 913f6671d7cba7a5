"""The team shape's bucket, against a real S3-speaking server (moto) on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx2 as httpx
import pytest

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ConfigError, StorageError
from imagegen_mcp.storage.objects import fetch, open_object_store, publish, storage_config
from imagegen_mcp.storage.s3 import S3Store
from tests.storage.s3_fixtures import S3_SECRET


def store_for(env: dict[str, str]) -> S3Store:
    config = storage_config(env)
    assert config is not None
    store = open_object_store(config)
    assert isinstance(store, S3Store)
    return store


def test_no_storage_url_means_files_in_the_output_directory() -> None:
    assert storage_config({}) is None
    assert storage_config({"IMAGEGEN_STORAGE_URL": "/srv/images"}) is None


@pytest.mark.parametrize("url", ["gs://bucket/x", "s3://", "bucket/prefix"])
def test_a_storage_url_that_is_not_s3_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        storage_config({"IMAGEGEN_STORAGE_URL": url})
    assert "IMAGEGEN_STORAGE_URL" in caught.value.message
    assert "s3://" in caught.value.fix


def test_a_bad_endpoint_or_link_lifetime_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="IMAGEGEN_S3_ENDPOINT_URL"):
        storage_config({"IMAGEGEN_STORAGE_URL": "s3://b", "IMAGEGEN_S3_ENDPOINT_URL": "minio:9000"})
    with pytest.raises(ConfigError, match="IMAGEGEN_S3_PRESIGN_S"):
        storage_config({"IMAGEGEN_STORAGE_URL": "s3://b", "IMAGEGEN_S3_PRESIGN_S": "soon"})


def test_the_secret_key_is_a_secret_of_the_settings_and_not_in_their_repr(tmp_path: Path) -> None:
    env = {"IMAGEGEN_OUTPUT_DIR": str(tmp_path), "IMAGEGEN_STORAGE_URL": "s3://b/p", "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    settings = Settings.from_env(env)
    assert S3_SECRET in settings.secrets()
    assert S3_SECRET not in repr(settings)
    assert settings.storage is not None and settings.storage.url == "s3://b/p"


def test_an_object_published_by_one_replica_is_read_by_another(s3_env: dict[str, str], tmp_path: Path) -> None:
    one, other = store_for(s3_env), store_for(s3_env)
    root = tmp_path / "out"
    (root / "cats").mkdir(parents=True)
    path = root / "cats" / "a.png"
    path.write_bytes(b"\x89PNG-bytes")
    publish(one, "images", root, path, b"\x89PNG-bytes", "image/png")
    assert fetch(other, "images", tmp_path / "elsewhere", tmp_path / "elsewhere" / "cats" / "a.png", 1024) == (
        b"\x89PNG-bytes"
    )
    assert other.get("images", "cats/missing.png", 1024) is None


def test_keys_keep_the_prefix_and_the_layout_on_disk(s3_env: dict[str, str]) -> None:
    import boto3

    store = store_for(s3_env)
    store.put("queue", "results/job1.json", b"{}", "application/json")
    config = store.config
    client = boto3.client(
        "s3", endpoint_url=config.endpoint_url, region_name="us-east-1",
        aws_access_key_id="AKIDTEST", aws_secret_access_key=S3_SECRET,
    )  # fmt: skip
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=config.bucket)["Contents"]]
    assert keys == ["team/queue/results/job1.json"]


def test_a_key_that_climbs_out_of_its_area_is_refused(s3_env: dict[str, str]) -> None:
    with pytest.raises(StorageError):
        store_for(s3_env).put("images", "../queue/results/x.json", b"{}", "application/json")


def test_an_object_larger_than_the_cap_is_an_error_not_a_partial_read(s3_env: dict[str, str]) -> None:
    store = store_for(s3_env)
    store.put("images", "big.png", b"x" * 2048, "image/png")
    with pytest.raises(StorageError, match="larger than 1024 bytes"):
        store.get("images", "big.png", 1024)


def test_presigned_links_fetch_the_image_over_plain_http(s3_env: dict[str, str]) -> None:
    store = store_for({**s3_env, "IMAGEGEN_S3_PRESIGN_S": "600"})
    store.put("images", "a.png", b"\x89PNG-linked", "image/png")
    link = store.link("images", "a.png")
    assert link is not None and "X-Amz-Expires=600" in link and S3_SECRET not in link
    assert httpx.get(link).content == b"\x89PNG-linked"
    assert store_for(s3_env).link("images", "a.png") is None  # links are off unless asked for


def test_preflight_says_the_bucket_is_reachable_and_writable(s3_env: dict[str, str]) -> None:
    [check] = store_for(s3_env).check()
    assert check.ok and "reachable and writable" in check.detail


def test_preflight_names_a_missing_bucket_with_a_fix(s3_env: dict[str, str]) -> None:
    [check] = store_for({**s3_env, "IMAGEGEN_STORAGE_URL": "s3://no-such-bucket-here/p"}).check()
    assert not check.ok
    assert "no such bucket" in check.detail and "IMAGEGEN_STORAGE_URL" in (check.fix or "")


def test_an_unreachable_endpoint_is_a_storage_error_naming_the_endpoint_variable(s3_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    store = store_for({**s3_env, "IMAGEGEN_S3_ENDPOINT_URL": closed})
    with pytest.raises(StorageError) as caught:
        store.put("images", "a.png", b"x", "image/png")
    assert "IMAGEGEN_S3_ENDPOINT_URL" in caught.value.fix
    assert S3_SECRET not in str(caught.value)
    [check] = store.check()
    assert not check.ok and "IMAGEGEN_S3_ENDPOINT_URL" in (check.fix or "")
