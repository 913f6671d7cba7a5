"""The team shape through MCP: an image saved by one replica is served by another, from the bucket."""

from __future__ import annotations

import base64
import shutil
import socket
from pathlib import Path

import anyio
import httpx2 as httpx
import pytest
from mcp import Client, MCPError

from imagegen_mcp.config import Settings
from imagegen_mcp.storage.objects import ObjectStore, open_object_store, storage_config
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.storage.s3_fixtures import S3_SECRET

pytestmark = pytest.mark.anyio
PROMPT = "a red lighthouse on a cliff at dusk, watercolor, wide shot"


def replica(settings: Settings, root: Path, env: dict[str, str]) -> Settings:
    """A second server process's view: its own disk, the same bucket."""
    return with_settings(settings, output_dir=root / "out", queue_dir=root / "queue", storage=storage_config(env))


async def test_an_image_made_on_one_replica_is_read_on_another(
    settings: Settings, s3_env: dict[str, str], tmp_path: Path
) -> None:
    one, other = replica(settings, tmp_path / "a", s3_env), replica(settings, tmp_path / "b", s3_env)
    async with Client(build_server(one)) as a, Client(build_server(other)) as b:
        result = await a.call_tool("generate_image", {"prompt": PROMPT})
        [image] = result.structured_content["images"]  # type: ignore[index]
        assert not (tmp_path / "b" / "out").exists() or not any((tmp_path / "b" / "out").rglob("*.png"))
        served = await b.read_resource(image["uri"])
    [contents] = served.contents
    assert base64.b64decode(contents.blob) == Path(image["path"]).read_bytes()  # type: ignore[union-attr]
    assert image["url"] is None  # links only when IMAGEGEN_S3_PRESIGN_S asks for them


async def test_presigned_links_in_results_serve_the_same_bytes(
    settings: Settings, s3_env: dict[str, str], tmp_path: Path
) -> None:
    one = replica(settings, tmp_path, {**s3_env, "IMAGEGEN_S3_PRESIGN_S": "3600"})
    async with Client(build_server(one)) as a:
        result = await a.call_tool("generate_image", {"prompt": PROMPT})
    [image] = result.structured_content["images"]  # type: ignore[index]
    assert image["url"].startswith(s3_env["IMAGEGEN_S3_ENDPOINT_URL"])
    assert httpx.get(image["url"]).content == Path(image["path"]).read_bytes()


async def test_an_image_in_neither_place_is_not_found(
    settings: Settings, s3_env: dict[str, str], tmp_path: Path
) -> None:
    async with Client(build_server(replica(settings, tmp_path, s3_env))) as a:
        result = await a.call_tool("generate_image", {"prompt": PROMPT})
        [image] = result.structured_content["images"]  # type: ignore[index]
        shutil.rmtree(tmp_path / "out")
        served = await a.read_resource(image["uri"])  # still in the bucket
        assert served.contents
    async with Client(build_server(replica(settings, tmp_path / "c", s3_env))) as c:
        with pytest.raises(MCPError, match="no image"):
            await c.read_resource("imagegen://images/bm90LXRoZXJlLnBuZw")


async def test_preflight_checks_the_bucket(settings: Settings, s3_env: dict[str, str], tmp_path: Path) -> None:
    async with Client(build_server(replica(settings, tmp_path, s3_env))) as a:
        result = await a.call_tool("preflight", {})
    [storage] = [c for c in result.structured_content["checks"] if c["name"] == "storage"]  # type: ignore[index]
    assert storage["ok"] and "reachable and writable" in storage["detail"]


async def test_a_bucket_outage_after_billing_keeps_the_image_and_says_where(
    settings: Settings, s3_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = replica(settings, tmp_path, {**s3_env, "IMAGEGEN_S3_ENDPOINT_URL": closed})
    async with Client(build_server(down)) as a:
        result = await a.call_tool("generate_image", {"prompt": PROMPT})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "IMAGEGEN_S3_ENDPOINT_URL" in text and "kept in" in text
    assert S3_SECRET not in text
    assert any((tmp_path / "queue").rglob("*.png"))  # the billed bytes are in the recovery folder


async def receipt_in(store: ObjectStore, job_id: str) -> bytes:
    """The job's receipt from the bucket; it is written just after the job's row says succeeded."""
    with anyio.fail_after(10):
        while (receipt := store.get("queue", f"results/{job_id}.json", 1 << 20)) is None:
            await anyio.sleep(0.05)
    return receipt


async def test_queued_images_and_their_receipts_reach_the_bucket(
    settings: Settings, s3_env: dict[str, str], tmp_path: Path
) -> None:
    one = with_settings(replica(settings, tmp_path / "a", s3_env), provider="placeholder")
    other = replica(settings, tmp_path / "b", s3_env)
    store = open_object_store(storage_config(s3_env))
    assert store is not None
    async with Client(build_server(one)) as a:
        enq = await a.call_tool("enqueue_images", {"prompt": PROMPT, "count": 2, "prefix": "coast"})
        assert not enq.is_error
        done = await a.call_tool(
            "queue_status",
            {"request_id": enq.structured_content["request_id"], "wait_s": 30},  # type: ignore[index]
        )
        manifest = Path(enq.structured_content["manifest"])  # type: ignore[index]
        shared = store.get("images", manifest.relative_to(one.output_dir.resolve()).as_posix(), 1 << 20)
        assert shared == manifest.read_bytes()
        jobs = done.structured_content["jobs"]  # type: ignore[index]
        assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]
        for job in jobs:
            assert job["job_id"].encode() in await receipt_in(store, job["job_id"])
    for job in jobs:
        [image] = job["images"]
        async with Client(build_server(other)) as b:
            served = await b.read_resource(image["uri"])
        assert base64.b64decode(served.contents[0].blob) == Path(image["path"]).read_bytes()  # type: ignore[union-attr]
