"""The baseline-image rails: every refusal says why and how to fix it; accepted files go out intact."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from imagegen_mcp.errors import RequestError
from imagegen_mcp.imaging.inputs import resolve_baseline
from imagegen_mcp.lint.rails import Rails, apply_rails
from imagegen_mcp.storage import local as store
from imagegen_mcp.storage.registry import SqliteGeneratedImages


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    out, ws = tmp_path / "out", tmp_path / "ws"
    out.mkdir()
    ws.mkdir()
    return out, ws


def registry(dirs: tuple[Path, Path]) -> SqliteGeneratedImages:
    return SqliteGeneratedImages(dirs[0].parent / "queue")


def resolve(ref: str, dirs: tuple[Path, Path], *, confirm: bool = True, max_mb: float = 20) -> object:
    out, ws = dirs
    return resolve_baseline(
        ref, output_dir=out, roots=[ws], max_mb=max_mb, confirm_external_upload=confirm, registry=registry(dirs)
    )


def refused(ref: str, dirs: tuple[Path, Path], **kw: object) -> RequestError:
    with pytest.raises(RequestError) as info:
        resolve(ref, dirs, **kw)  # type: ignore[arg-type]
    assert info.value.fix, "every refusal carries a fix"
    return info.value


def test_a_workspace_file_goes_out_byte_for_byte_after_confirmation(dirs: tuple[Path, Path]) -> None:
    data = png()
    (dirs[1] / "logo.png").write_bytes(data)
    baseline = resolve(str(dirs[1] / "logo.png"), dirs)
    assert baseline.origin == "local"  # type: ignore[attr-defined]
    sent = base64.b64decode(baseline.url.partition(",")[2])  # type: ignore[attr-defined]
    assert sent == data and baseline.sha256 == hashlib.sha256(data).hexdigest()  # type: ignore[attr-defined]


def test_relative_paths_are_looked_up_in_the_allowed_folders(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "a.png").write_bytes(png())
    assert resolve("a.png", dirs).source == "a.png"  # type: ignore[attr-defined]


def test_a_local_file_without_confirmation_is_refused(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "logo.png").write_bytes(png())
    err = refused(str(dirs[1] / "logo.png"), dirs, confirm=False)
    assert "confirm_external_upload=true" in err.fix


def test_generated_images_need_no_confirmation(dirs: tuple[Path, Path]) -> None:
    path = dirs[0] / "made.png"
    path.write_bytes(png())
    registry(dirs).add(hashlib.sha256(path.read_bytes()).hexdigest(), str(path))
    by_uri = resolve(store.image_uri(dirs[0], path), dirs, confirm=False)
    by_path = resolve(str(path), dirs, confirm=False)
    assert by_uri.origin == by_path.origin == "generated"  # type: ignore[attr-defined]


def test_a_symlink_is_refused(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    (dirs[1] / "real.png").write_bytes(png())
    (dirs[1] / "link.png").symlink_to(dirs[1] / "real.png")
    assert "symbolic link" in refused(str(dirs[1] / "link.png"), dirs).message


def test_a_symlinked_parent_is_refused(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    real = dirs[1] / "real"
    real.mkdir()
    (real / "x.png").write_bytes(png())
    (dirs[1] / "alias").symlink_to(real)
    assert "symbolic link" in refused(str(dirs[1] / "alias" / "x.png"), dirs).message


def test_dot_dot_traversal_out_of_the_roots_is_refused(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(png())
    assert "outside the allowed folders" in refused(str(dirs[1] / ".." / "secret.png"), dirs).message
    assert "outside the allowed folders" in refused("../secret.png", dirs).message


def test_a_file_outside_the_roots_is_refused(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.png").write_bytes(png())
    err = refused(str(elsewhere / "x.png"), dirs)
    assert "outside the allowed folders" in err.message and "IMAGEGEN_WORKSPACE" in err.fix


def test_a_file_over_the_size_cap_is_refused(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "big.png").write_bytes(png((400, 400)))
    err = refused(str(dirs[1] / "big.png"), dirs, max_mb=0.0001)
    assert "over the 0.0001 MiB limit" in err.message and "IMAGEGEN_MAX_BASELINE_MB" in err.fix


def test_a_text_file_named_png_is_refused(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "notes.png").write_text("not an image")
    assert "judged by its content" in refused(str(dirs[1] / "notes.png"), dirs).message


def test_a_missing_file_is_refused(dirs: tuple[Path, Path]) -> None:
    assert "does not exist" in refused(str(dirs[1] / "nope.png"), dirs).message


def test_a_directory_is_refused(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "d.png").mkdir()
    assert "not a regular file" in refused(str(dirs[1] / "d.png"), dirs).message


@pytest.mark.parametrize(
    "ref", ["http://example.com/a.png", "file:///etc/passwd", "ftp://x/y.png", "data:image/png;base64,AAAA"]
)
def test_non_https_urls_are_refused(dirs: tuple[Path, Path], ref: str) -> None:
    assert "not accepted" in refused(ref, dirs).message


def test_https_urls_pass_through_unfetched(dirs: tuple[Path, Path]) -> None:
    baseline = resolve("https://example.com/cat.jpg", dirs, confirm=False)
    assert baseline.url == "https://example.com/cat.jpg" and baseline.origin == "url"  # type: ignore[attr-defined]


def test_an_oversized_baseline_is_downscaled_before_sending(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "huge.png").write_bytes(png((5000, 1000)))
    baseline = resolve(str(dirs[1] / "huge.png"), dirs)
    sent = base64.b64decode(baseline.url.partition(",")[2])  # type: ignore[attr-defined]
    with Image.open(io.BytesIO(sent)) as im:
        assert im.size == (2048, 410)
    assert "downscaled from 5000x1000 to 2048x410" in baseline.resolution_policy  # type: ignore[attr-defined]


def test_rails_text_is_deterministic_and_listed() -> None:
    rails = Rails(must_keep=("the logo", "the logo", " text "))
    first = apply_rails("make the sky stormier", rails, has_baseline=True)
    assert first == apply_rails("make the sky stormier", rails, has_baseline=True)
    prompt, applied = first
    assert applied == ["variation:low", "must_keep:the logo", "must_keep:text", "lock_palette", "lock_composition"]
    assert prompt.startswith("make the sky stormier\n\nUse the provided image")
    assert "Keep these exactly as they are: the logo; text." in prompt


def test_rails_follow_the_callers_choices_and_vanish_without_a_baseline() -> None:
    _, applied = apply_rails("x", Rails(variation_strength="high", lock_palette=False), has_baseline=True)
    assert applied == ["variation:high", "lock_composition"]
    assert apply_rails("x", Rails(lock_palette=True), has_baseline=False) == ("x", [])
