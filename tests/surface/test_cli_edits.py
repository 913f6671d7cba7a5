"""The CLI verbs edit and upscale, run as a user runs them (subprocesses), offline (placeholder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "out"),
        "IMAGEGEN_PROVIDER": "placeholder", "IMAGEGEN_WORKSPACE": str(tmp_path / "work"),
    }  # fmt: skip
    return subprocess.run([sys.executable, "-m", "imagegen_mcp", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)  # fmt: skip


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    path = tmp_path / "work" / "pic.png"
    Image.new("RGB", (96, 64), (9, 99, 199)).save(path)
    return path


def test_edit_outpaints_to_16_9_and_upscale_multiplies_printing_json(tmp_path: Path, picture: Path) -> None:
    edit = run(tmp_path, "edit", str(picture), "--mode", "outpaint", "--aspect-ratio", "16:9",
               "--confirm-external-upload", "--json")  # fmt: skip
    assert edit.returncode == 0, edit.stderr
    wide = json.loads(edit.stdout)
    assert wide["operation"] == "outpaint" and (wide["images"][0]["width"], wide["images"][0]["height"]) == (114, 64)
    up = run(tmp_path, "upscale", wide["images"][0]["uri"], "--scale", "4", "--json")
    assert up.returncode == 0, up.stderr
    big = json.loads(up.stdout)
    assert big["operation"] == "upscale" and big["images"][0]["width"] == 456


def test_edit_errors_name_the_cli_flags(tmp_path: Path, picture: Path) -> None:
    proc = run(tmp_path, "edit", str(picture), "--mode", "inpaint", "--prompt", "a door", "--confirm-external-upload")
    assert proc.returncode == 1 and "--mask-box" in proc.stderr and "--mask " in proc.stderr
    consent = run(tmp_path, "upscale", str(picture))
    assert consent.returncode == 1 and "--confirm-external-upload" in consent.stderr
