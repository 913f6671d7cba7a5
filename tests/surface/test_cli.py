"""The CLI verbs, run as a user runs them (subprocesses), against the emulator or offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulator.openrouter import Emulator

pytestmark = pytest.mark.slow


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "imagegen_mcp", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        cwd=tmp_path,
    )


def test_preflight_exits_one_without_a_key_and_prints_the_fix(tmp_path: Path) -> None:
    proc = run(tmp_path, "preflight", OPENROUTER_BASE_URL="http://127.0.0.1:9/api/v1")
    assert proc.returncode == 1
    assert "OPENROUTER_API_KEY" in proc.stdout and "fix:" in proc.stdout


def test_preflight_json_exits_zero_when_ready(tmp_path: Path, emulator: Emulator) -> None:
    proc = run(
        tmp_path,
        "preflight",
        "--json",
        OPENROUTER_API_KEY=emulator.api_key,
        OPENROUTER_BASE_URL=emulator.base_url,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and all(c["ok"] for c in report["checks"])
    assert emulator.api_key not in proc.stdout


def test_generate_json_has_the_contract_keys(tmp_path: Path, emulator: Emulator) -> None:
    proc = run(
        tmp_path, "generate", "a paper crane on a desk, macro photo", "--json", "--out", "cranes/",
        OPENROUTER_API_KEY=emulator.api_key, OPENROUTER_BASE_URL=emulator.base_url,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"images", "model", "provider", "generation_id", "cost_usd", "elapsed_s", "hints"} <= set(result)
    [image] = result["images"]
    assert {"path", "uri", "mime_type", "width", "height", "bytes", "sha256"} <= set(image)
    assert Path(image["path"]).parent == (tmp_path / "out" / "cranes").resolve()


def test_generate_failure_exits_one_with_the_message_on_stderr(tmp_path: Path, emulator: Emulator) -> None:
    proc = run(tmp_path, "generate", "a crane", OPENROUTER_BASE_URL=emulator.base_url)
    assert proc.returncode == 1
    assert "OPENROUTER_API_KEY is not set" in proc.stderr and proc.stdout == ""


def test_a_bad_environment_value_exits_two_naming_the_variable(tmp_path: Path) -> None:
    proc = run(tmp_path, "preflight", IMAGEGEN_MAX_WORKERS="lots")
    assert proc.returncode == 2 and "IMAGEGEN_MAX_WORKERS" in proc.stderr


def test_demo_runs_offline_and_says_so(tmp_path: Path) -> None:
    proc = run(tmp_path, "demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "placeholder" in proc.stdout and "Saved:" in proc.stdout
    saved = [p for p in (tmp_path / "out").rglob("*.png")]
    assert len(saved) == 1


def test_demo_against_the_emulator_uses_the_key(tmp_path: Path, emulator: Emulator) -> None:
    proc = run(tmp_path, "demo", OPENROUTER_API_KEY=emulator.api_key, OPENROUTER_BASE_URL=emulator.base_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "provider openrouter" in proc.stdout.lower() or "Provider openrouter" in proc.stdout
    assert emulator.api_key not in proc.stdout


def test_schemas_check_passes_on_the_committed_files(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = run(tmp_path, "schemas", "--check", "--out", str(root / "tool_schemas"))
    assert proc.returncode == 0, proc.stderr


def test_schemas_writes_nothing_into_the_working_directory(tmp_path: Path) -> None:
    proc = run(tmp_path, "schemas", "--check")  # cwd is tmp_path: the checkout's tool_schemas/ is checked
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "tool_schemas").exists()
    out = tmp_path / "exported"
    proc = run(tmp_path, "schemas", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "generate_image.json").is_file() and not (tmp_path / "tool_schemas").exists()
