"""The BFL and fal emulators hold to their checklists when spoken to directly (plain HTTP, no provider)."""

from __future__ import annotations

import httpx2

from tests.emulator.bfl import BFLEmulator
from tests.emulator.fal import FalEmulator


def test_bfl_refuses_a_bad_key_and_a_width_off_the_32_grid_and_never_echoes_the_key(bfl_emu: BFLEmulator) -> None:
    with httpx2.Client(base_url=bfl_emu.base_url) as http:
        bad = http.post("/v1/flux-pro-1.1", json={"prompt": "x"}, headers={"x-key": "nope"})
        odd = http.post("/v1/flux-pro-1.1", json={"prompt": "x", "width": 1000}, headers={"x-key": bfl_emu.api_key})
    assert bad.status_code == 403 and odd.status_code == 422
    assert odd.json()["detail"][0]["loc"] == ["body", "width"]
    assert all(r.headers["x-key"] != bfl_emu.api_key for r in bfl_emu.requests)


def test_bfl_get_result_is_always_200_with_a_status_and_an_unknown_id_is_task_not_found(
    bfl_emu: BFLEmulator,
) -> None:
    with httpx2.Client(base_url=bfl_emu.base_url, headers={"x-key": bfl_emu.api_key}) as http:
        task = http.post("/v1/flux-pro-1.1", json={"prompt": "x"}).json()
        assert task["polling_url"].startswith("http://localhost:")  # absolute, another host spelling
        first = http.get(task["polling_url"]).json()
        ready = http.get(task["polling_url"]).json()
        unknown = http.get("/v1/get_result", params={"id": "nope"})
        sample = http.get(ready["result"]["sample"])
        bfl_emu.advance_clock(601)
        expired = http.get(ready["result"]["sample"])
    assert (first["status"], first["result"]) == ("Pending", None) and 0 < first["progress"] < 1
    assert ready["status"] == "Ready" and sample.status_code == 200 and sample.content[:2] == b"\xff\xd8"
    assert unknown.status_code == 200 and unknown.json()["status"] == "Task not found"
    assert expired.status_code == 403


def test_fal_status_result_and_cancel_live_under_owner_alias_without_the_sub_path(fal_emu: FalEmulator) -> None:
    headers = {"Authorization": f"Key {fal_emu.api_key}"}
    with httpx2.Client(base_url=fal_emu.queue_url, headers=headers) as http:
        job = http.post("/fal-ai/flux/dev", json={"prompt": "x"}).json()
        assert job["status_url"].endswith(f"/fal-ai/flux/requests/{job['request_id']}/status")
        trap = http.get(f"/fal-ai/flux/dev/requests/{job['request_id']}/status")
        early = http.get(job["response_url"])
        queued = http.get(job["status_url"]).json()
        running = http.get(job["status_url"], params={"logs": 1}).json()
        done = http.get(job["status_url"], params={"logs": 1}).json()
        result = http.get(job["response_url"])
        late_cancel = http.put(job["cancel_url"])
    assert trap.status_code == 404 and early.status_code == 400 and "detail" in early.json()
    assert queued["status"] == "IN_QUEUE" and isinstance(queued["queue_position"], int)
    assert running["status"] == "IN_PROGRESS" and running["logs"]
    assert done["status"] == "COMPLETED" and "metrics" in done and "logs" in done
    assert result.json()["images"][0]["url"] and result.headers["x-fal-request-id"] == job["request_id"]
    assert late_cancel.status_code == 400 and late_cancel.json()["status"] == "ALREADY_COMPLETED"


def test_fal_cancel_of_a_running_job_is_202_and_a_missing_input_is_a_422_detail(fal_emu: FalEmulator) -> None:
    fal_emu.fault("hold")
    headers = {"Authorization": f"Key {fal_emu.api_key}"}
    with httpx2.Client(base_url=fal_emu.queue_url, headers=headers) as http:
        job = http.post("/fal-ai/flux/dev", json={"prompt": "x"}).json()
        cancel = http.put(job["cancel_url"])
        missing = http.post("/fal-ai/flux/dev/image-to-image", json={"prompt": "x"})
        unauthorised = http.post("/fal-ai/flux/dev", json={"prompt": "x"}, headers={"Authorization": "Key nope"})
    assert cancel.status_code == 202 and cancel.json()["status"] == "CANCELLATION_REQUESTED"
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "image_url"]
    assert unauthorised.status_code == 401
