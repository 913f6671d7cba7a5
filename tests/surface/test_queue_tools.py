"""enqueue_images, queue_status and imagegen://jobs/{id} through a real MCP client; CLI parity."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError, types
from PIL import Image

from imagegen_mcp.config import Settings
from imagegen_mcp.queue.sqlite import JobQueue
from imagegen_mcp.surface.cli.main import main as cli_main
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings
from tests.emulator.openrouter import Emulator, Fault

pytestmark = pytest.mark.anyio

PROMPT = "A lighthouse on a basalt cliff at dusk, wide shot, watercolor, warm window light, calm mood"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def kinds(result: Any) -> list[str]:
    return [b.type for b in result.content]


def job_count(settings: Settings) -> int:
    if not (settings.queue_dir / "queue.sqlite3").exists():
        return 0
    q = JobQueue(settings.queue_dir).open()
    try:
        return sum(v for k, v in q.totals().items() if k != "cost_usd")
    finally:
        q.close()


@pytest.fixture
def offline(settings: Settings) -> Settings:
    return with_settings(settings, provider="placeholder")


async def enqueue(c: Client, **arguments: Any) -> dict[str, Any]:
    arguments.setdefault("prompt", PROMPT)
    result = await c.call_tool("enqueue_images", arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def test_tools_and_the_job_resource_are_listed_truthfully(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    enq, status = tools["enqueue_images"], tools["queue_status"]
    assert {"request_id", "jobs", "hints"} <= set(enq.output_schema["properties"])  # type: ignore[index]
    assert {"jobs", "totals"} <= set(status.output_schema["properties"])  # type: ignore[index]
    props = enq.input_schema["properties"]
    assert props["count"]["minimum"] == 1 and props["count"]["maximum"] == 16
    assert enq.annotations.read_only_hint is False and enq.annotations.idempotent_hint is False  # type: ignore[union-attr]
    assert status.annotations.read_only_hint is True  # type: ignore[union-attr]
    templates = (await client.list_resource_templates()).resource_templates
    assert any(t.uri_template == "imagegen://jobs/{job_id}" for t in templates)


async def test_enqueue_returns_at_once_and_status_hands_back_images_with_one_contact_sheet(offline: Settings) -> None:
    async with Client(build_server(offline)) as c:
        started = time.monotonic()
        enq = await enqueue(c, count=8, prefix="lighthouse", out_dir="coast", image_size="low")
        assert time.monotonic() - started < 5
        assert [j["index"] for j in enq["jobs"]] == list(range(1, 9))
        assert all(j["status"] in ("queued", "running", "succeeded") for j in enq["jobs"])
        assert enq["jobs"][0]["out"] == str(offline.output_dir.resolve() / "coast" / "lighthouse-01")
        assert Path(enq["manifest"]).name == "lighthouse-manifest.json"

        result = await c.call_tool("queue_status", {"request_id": enq["request_id"], "wait_s": 30})
        assert not result.is_error, text_of(result)
        status = result.structured_content
        assert status is not None and status["finished"] and status["totals"]["succeeded"] == 8
        assert kinds(result) == ["text"] + ["resource_link"] * 8 + ["image"]
        names = sorted(Path(j["images"][0]["path"]).name for j in status["jobs"])
        assert names == [f"lighthouse-{i:02d}.png" for i in range(1, 9)]
        for job in status["jobs"]:
            assert {"job_id", "request_id", "status", "attempts", "images", "error"} <= set(job)
            assert job["attempts"] == 1 and job["error"] is None and job["finished_at"]
        sheet = next(b for b in result.content if b.type == "image")
        with Image.open(io.BytesIO(base64.b64decode(sheet.data))) as im:
            assert im.format == "JPEG" and max(im.size) <= 1024
        wire = result.model_dump_json(by_alias=True, exclude_none=True)
        assert len(wire) < 1024 * 1024
        link = next(b for b in result.content if b.type == "resource_link")
        data = await c.read_resource(link.uri)
        assert base64.b64decode(data.contents[0].blob).startswith(b"\x89PNG")  # type: ignore[union-attr]


async def test_request_id_makes_enqueue_idempotent_and_never_pays_twice(settings: Settings, emulator: Emulator) -> None:
    async with Client(build_server(settings)) as c:
        first = await enqueue(c, count=3, request_id="batch-1", prefix="lh")
        again = await enqueue(c, count=3, request_id="batch-1", prefix="lh")
        assert [j["job_id"] for j in again["jobs"]] == [j["job_id"] for j in first["jobs"]]
        assert again["deduplicated"] is True and first["deduplicated"] is False
        done = await c.call_tool("queue_status", {"request_id": "batch-1", "wait_s": 30, "return_image": "none"})
        assert done.structured_content["totals"]["succeeded"] == 3  # type: ignore[index]
        late = await enqueue(c, count=3, request_id="batch-1", prefix="lh")  # a retry after the jobs finished
        assert [j["status"] for j in late["jobs"]] == ["succeeded"] * 3
        refused = await c.call_tool("enqueue_images", {"prompt": PROMPT, "count": 4, "request_id": "batch-1"})
        assert refused.is_error and "different payload" in text_of(refused) and "new request_id" in text_of(refused)
    assert emulator.generation_count(PROMPT) == 3
    assert job_count(settings) == 3


BAD = [
    ("count 0", {"count": 0}, "count"),
    ("count 17", {"count": 17}, "count"),
    ("empty request_id", {"request_id": ""}, "request_id"),
    ("oversized request_id", {"request_id": "r" * 129}, "request_id"),
    ("request_id with spaces", {"request_id": "my batch"}, "request_id"),
    ("out_dir escaping", {"out_dir": "../elsewhere"}, "outside the output directory"),
    ("absolute out_dir elsewhere", {"out_dir": "/etc"}, "outside the output directory"),
    ("prefix with a slash", {"prefix": "a/b"}, "prefix"),
]


@pytest.mark.parametrize(("name", "arguments", "needle"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_a_clear_error_and_nothing_is_enqueued(
    offline: Settings, name: str, arguments: dict[str, Any], needle: str
) -> None:
    async with Client(build_server(offline)) as c:
        result = await c.call_tool("enqueue_images", {"prompt": PROMPT, **arguments})
        assert result.is_error and needle in text_of(result), text_of(result)
    assert job_count(offline) == 0
    assert not list(offline.output_dir.rglob("*manifest.json")) if offline.output_dir.exists() else True


async def test_unknown_jobs_and_requests_are_clear_errors(offline: Settings) -> None:
    async with Client(build_server(offline)) as c:
        result = await c.call_tool("queue_status", {"job_ids": ["j_doesnotexist0000"]})
        assert result.is_error and "unknown job id" in text_of(result) and "enqueue_images" in text_of(result)
        result = await c.call_tool("queue_status", {"request_id": "nope"})
        assert result.is_error and "unknown request_id" in text_of(result)
        with pytest.raises(MCPError):
            await c.read_resource("imagegen://jobs/j_doesnotexist0000")
        empty = await c.call_tool("queue_status", {})
        assert not empty.is_error and empty.structured_content["jobs"] == []  # type: ignore[index]


async def test_taken_file_names_and_a_missing_key_are_refused_up_front(settings: Settings) -> None:
    (settings.output_dir / "cats").mkdir(parents=True)
    (settings.output_dir / "cats" / "tom-02.jpg").write_bytes(b"x")
    async with Client(build_server(settings)) as c:
        taken = await c.call_tool("enqueue_images", {"prompt": PROMPT, "count": 3, "out_dir": "cats", "prefix": "tom"})
        assert taken.is_error and "tom-02.jpg already exists" in text_of(taken) and "overwrite" in text_of(taken)
    async with Client(build_server(with_settings(settings, api_key=None))) as c:
        keyless = await c.call_tool("enqueue_images", {"prompt": PROMPT})
        assert keyless.is_error and "OPENROUTER_API_KEY" in text_of(keyless) and "placeholder" in text_of(keyless)
    assert job_count(settings) == 0


async def test_wait_s_returns_as_soon_as_the_jobs_finish_and_sends_progress(
    settings: Settings, emulator: Emulator
) -> None:
    emulator.latency_s = 0.4
    events: list[tuple[float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        events.append((value, total, message))

    async with Client(build_server(settings)) as c:
        enq = await enqueue(c, count=2)
        started = time.monotonic()
        result = await c.call_tool(
            "queue_status", {"request_id": enq["request_id"], "wait_s": 60}, progress_callback=progress
        )
        elapsed = time.monotonic() - started
    assert not result.is_error and result.structured_content["finished"]  # type: ignore[index]
    assert elapsed < 10, elapsed
    assert result.structured_content["waited_s"] > 0  # type: ignore[index]
    assert events and all(total == 2 for _, total, _ in events)
    assert [v for v, _, _ in events] == sorted(v for v, _, _ in events)
    assert events[-1][2] == "2/2 jobs finished"


async def test_wait_s_gives_up_after_wait_s_with_the_jobs_still_running(settings: Settings, emulator: Emulator) -> None:
    emulator.latency_s = 5
    async with Client(build_server(settings)) as c:
        enq = await enqueue(c)
        started = time.monotonic()
        result = await c.call_tool("queue_status", {"request_id": enq["request_id"], "wait_s": 0.6})
        assert 0.5 < time.monotonic() - started < 4
        status = result.structured_content
        assert status is not None and not status["finished"] and status["jobs"][0]["status"] == "running"
        assert "call again" in text_of(result)
        emulator.latency_s = 0


async def test_a_failed_job_reports_its_message_and_fix(settings: Settings, emulator: Emulator) -> None:
    emulator.set_fault(Fault("http", status=402))
    async with Client(build_server(settings)) as c:
        enq = await enqueue(c)
        result = await c.call_tool("queue_status", {"job_ids": [enq["jobs"][0]["job_id"]], "wait_s": 30})
    job = result.structured_content["jobs"][0]  # type: ignore[index]
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"]["code"] == "insufficient_credits" and job["error"]["fix"]
    assert result.structured_content["totals"]["failed"] == 1  # type: ignore[index]
    assert job["error"]["message"] in text_of(result)


async def test_the_job_resource_is_json(offline: Settings) -> None:
    async with Client(build_server(offline)) as c:
        enq = await enqueue(c, image_size="low")
        job_id = enq["jobs"][0]["job_id"]
        await c.call_tool("queue_status", {"job_ids": [job_id], "wait_s": 30})
        contents = (await c.read_resource(f"imagegen://jobs/{job_id}")).contents[0]
    assert contents.mime_type == "application/json"
    data = json.loads(contents.text)  # type: ignore[union-attr]
    assert data["job_id"] == job_id and data["status"] == "succeeded" and data["images"]


@pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")  # resources/subscribe is the legacy era's way
async def test_subscribers_hear_when_a_job_finishes_in_both_protocol_eras(
    settings: Settings, emulator: Emulator
) -> None:
    emulator.latency_s = 1.0  # the job is still running when the client subscribes
    async with Client(build_server(settings)) as c:  # 2026: subscriptions/listen on the SDK's bus
        enq = await enqueue(c)
        uri = f"imagegen://jobs/{enq['jobs'][0]['job_id']}"
        async with c.listen(resource_subscriptions=[uri]) as sub:
            with anyio.fail_after(10):
                async for event in sub:
                    assert event.uri == uri  # type: ignore[union-attr]
                    if (await c.read_resource(uri)).contents[0].text.find('"succeeded"') >= 0:  # type: ignore[union-attr]
                        break

    updates: list[str] = []
    finished = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            finished.set()

    async with Client(build_server(settings), mode="legacy", message_handler=on_message) as c:  # resources/subscribe
        assert c.server_capabilities.resources.subscribe is True  # type: ignore[union-attr]
        enq = await enqueue(c, prompt=PROMPT + ", legacy")
        uri = f"imagegen://jobs/{enq['jobs'][0]['job_id']}"
        await c.session.subscribe_resource(uri)
        with anyio.fail_after(10):
            await finished.wait()
    assert set(updates) == {uri}


def test_the_cli_enqueues_drains_and_reports_like_the_tools(
    offline: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAGEGEN_OUTPUT_DIR", str(offline.output_dir))
    monkeypatch.setenv("IMAGEGEN_QUEUE_DIR", str(offline.queue_dir))
    monkeypatch.setenv("IMAGEGEN_PROVIDER", "placeholder")
    assert cli_main(["enqueue", PROMPT, "--count", "2", "--prefix", "cli", "--image-size", "low", "--json"]) == 0
    enq = json.loads(capsys.readouterr().out)
    assert {"request_id", "jobs", "hints"} <= set(enq) and len(enq["jobs"]) == 2
    assert cli_main(["worker", "--once", "--poll", "0.05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if line.startswith("succeeded")]) == 2  # plain lines off a terminal
    assert cli_main(["status", "--request-id", enq["request_id"], "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["totals"]["succeeded"] == 2 and {"jobs", "totals"} <= set(status)
    assert cli_main(["status"]) == 0
    assert "2 succeeded" in capsys.readouterr().out
    manifest = offline.output_dir / "cli-manifest.json"
    assert cli_main(["enqueue", "--from-manifest", str(manifest)]) == 1  # names taken: a clear refusal
    assert "already exists" in capsys.readouterr().err
    assert cli_main(["enqueue", "--from-manifest", str(manifest), "--prefix", "cli-again", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert len(again["jobs"]) == 2 and again["prefix"] == "cli-again"
    assert cli_main(["enqueue", PROMPT, "--count", "0"]) == 1
    assert "count" in capsys.readouterr().err


async def test_one_worker_per_server_even_when_the_lifespan_runs_per_connection(offline: Settings) -> None:
    """SSE enters the lifespan once per connection: one runs the worker, the next takes over when it closes."""
    from imagegen_mcp.surface.queue_tools import QueueRuntime

    runtime = QueueRuntime(offline)
    await runtime.queue()  # a queue tool was used: the worker starts once the queue exists
    stop = [anyio.Event(), anyio.Event()]

    async def connection(i: int) -> None:
        async with runtime.running():
            await stop[i].wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(connection, 0)
        with anyio.fail_after(5):
            while runtime.worker is None:
                await anyio.sleep(0.01)
        first = runtime.worker
        tg.start_soon(connection, 1)
        await anyio.sleep(0.2)
        assert runtime.worker is first  # the second connection waits
        stop[0].set()
        with anyio.fail_after(5):
            while runtime.worker is first or runtime.worker is None:
                await anyio.sleep(0.01)
        stop[1].set()
    assert runtime.worker is None


async def test_baseline_options_reach_the_job_and_a_bad_baseline_is_refused_up_front(
    settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    async with Client(build_server(settings)) as c:
        made = await c.call_tool("generate_image", {"prompt": PROMPT, "return_image": "none"})
        uri = made.structured_content["images"][0]["uri"]  # type: ignore[index]
        edit = "Change only the sky to a starry night; keep the lighthouse and the cliff exactly as they are."
        enq = await enqueue(c, prompt=edit, baseline_image=uri, must_keep=["the lighthouse"], count=2)
        done = await c.call_tool("queue_status", {"request_id": enq["request_id"], "wait_s": 30})
        assert done.structured_content["totals"]["succeeded"] == 2  # type: ignore[index]
        sent = [r for r in emulator.generation_requests() if r.prompt and "starry" in r.prompt]
        assert len(sent) == 2 and all(r.input_images or r.input_image_urls for r in sent)
        before = job_count(settings)
        private = tmp_path / "private.png"
        private.write_bytes(Path(done.structured_content["jobs"][0]["images"][0]["path"]).read_bytes())  # type: ignore[index]
        refused = await c.call_tool("enqueue_images", {"prompt": edit, "baseline_image": str(private)})
        assert refused.is_error and "private.png" in text_of(refused), text_of(refused)
        assert job_count(settings) == before


async def test_the_api_key_is_in_no_queue_file_result_or_log(
    settings: Settings, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    emulator.push_fault(Fault("http", status=401), times=1)  # one job fails: its receipt must be clean too
    async with Client(build_server(settings)) as c:
        enq = await enqueue(c, count=3, prefix="keyless")
        status = await c.call_tool("queue_status", {"request_id": enq["request_id"], "wait_s": 30})
    key = emulator.api_key
    assert key not in status.model_dump_json() and key not in caplog.text
    files = [p for root in (settings.queue_dir, settings.output_dir) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path
