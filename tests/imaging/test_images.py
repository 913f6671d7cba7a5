import io
import os
from pathlib import Path

import pytest
from PIL import Image

from imagegen_mcp.errors import ImageError, OutPathError
from imagegen_mcp.imaging import codec, previews
from imagegen_mcp.storage import local as store


def encode(fmt: str, size: tuple[int, int] = (32, 16), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 0)).save(buf, fmt)
    return buf.getvalue()


def noise(size: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_format_is_sniffed_from_the_bytes(fmt: str, mime: str) -> None:
    assert codec.sniff(encode(fmt)) == mime


def test_non_images_are_refused_with_a_fix() -> None:
    with pytest.raises(ImageError) as info:
        codec.sniff(b"<html>rate limited</html>")
    assert "not a PNG" in info.value.message and info.value.fix


def test_inspect_reports_size_and_digest() -> None:
    data = encode("PNG", (40, 20))
    facts = codec.inspect(data)
    assert (facts.mime_type, facts.width, facts.height, facts.size) == ("image/png", 40, 20, len(data))
    assert len(facts.sha256) == 64


def test_base64_from_data_url_or_bare_with_missing_padding() -> None:
    import base64

    raw = encode("PNG")
    b64 = base64.b64encode(raw).decode()
    assert codec.decode_base64_image(f"data:image/png;base64,{b64}") == raw
    assert codec.decode_base64_image(b64.rstrip("=")) == raw


def test_out_path_outside_output_dir_is_refused(tmp_path: Path) -> None:
    for out in ("../escape.png", "/etc/passwd", "a/../../b.png"):
        with pytest.raises(OutPathError) as info:
            store.resolve_target(tmp_path, out, "stem", "image/png")
        assert "outside the output directory" in info.value.message


def test_out_through_a_symlink_that_leaves_the_output_dir_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(OutPathError):
        store.resolve_target(root, "link/x.png", "stem", "image/png")


def test_out_suffix_follows_the_real_format_and_trailing_slash_names_a_directory(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    assert store.resolve_target(root, "cats/fox.png", "s", "image/jpeg") == root / "cats" / "fox.jpg"
    assert store.resolve_target(root, "cats/fox", "s", "image/png") == root / "cats" / "fox.png"
    assert store.resolve_target(root, "cats/", "s", "image/webp") == root / "cats" / "s.webp"
    assert store.resolve_target(root, str(root / "abs.png"), "s", "image/png") == root / "abs.png"


def test_save_never_overwrites_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.png"
    first = store.save_atomic(target, b"one")
    second = store.save_atomic(target, b"two")
    assert (first, second) == (target, tmp_path / "sub" / "a-2.png")
    assert first.read_bytes() == b"one"
    third = store.save_atomic(target, b"three", overwrite=True)
    assert third == target and target.read_bytes() == b"three"
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_image_ids_round_trip_and_cannot_escape(tmp_path: Path) -> None:
    path = tmp_path / "x" / "y.png"
    ident = store.image_id(tmp_path, path)
    assert "/" not in ident
    assert store.path_for_id(tmp_path, ident) == path.resolve()
    import base64

    evil = base64.urlsafe_b64encode(b"../../etc/passwd").decode().rstrip("=")
    with pytest.raises(OutPathError):
        store.path_for_id(tmp_path, evil)


def test_preview_of_a_4096_noise_image_fits_the_budget() -> None:
    data = noise(4096)
    out = previews.preview(data)
    assert len(out) <= previews.PREVIEW_BUDGET_BYTES
    with Image.open(io.BytesIO(out)) as im:
        assert max(im.size) <= 1024 and im.format == "JPEG"


def test_preview_keeps_transparent_images_visible_on_white() -> None:
    out = previews.preview(encode("PNG", (64, 64), mode="RGBA"))
    with Image.open(io.BytesIO(out)) as im:
        r, g, b = im.convert("RGB").getpixel((32, 32))
    assert min(r, g, b) > 240


def test_contact_sheet_tiles_every_image_within_budget() -> None:
    sheet = previews.contact_sheet([encode("PNG", (300, 200)) for _ in range(5)])
    assert len(sheet) <= previews.PREVIEW_BUDGET_BYTES
    with Image.open(io.BytesIO(sheet)) as im:
        assert im.width > im.height  # 3 columns x 2 rows
