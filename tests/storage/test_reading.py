"""The bounded reader: regular files only, capped, never blocking; and the pixel cap."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from imagegen_mcp.errors import ImageError, RequestError
from imagegen_mcp.imaging import codec
from imagegen_mcp.storage.reading import read_regular


def test_a_regular_file_under_the_cap_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x" * 1000)
    assert read_regular(tmp_path / "a.png", max_bytes=1000, what="image") == b"x" * 1000


def test_a_symlink_is_refused_even_to_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "l.png").symlink_to(tmp_path / "a.png")
    with pytest.raises(RequestError, match="symbolic link"):
        read_regular(tmp_path / "l.png", max_bytes=10, what="image")


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p")
    with pytest.raises(RequestError, match="FIFO") as info:
        read_regular(tmp_path / "p", max_bytes=10, what="baseline_image")
    assert info.value.code == "not_a_regular_file" and "baseline_image" in info.value.message


def test_a_file_over_the_cap_is_refused_with_the_given_fix(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(RequestError) as info:
        read_regular(tmp_path / "big", max_bytes=10, what="image", fix_size="raise THE_CAP")
    assert info.value.code == "file_too_large" and info.value.fix == "raise THE_CAP"


def test_a_header_declaring_50000_by_50000_pixels_is_too_large_not_decoded() -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0))
    with pytest.raises(ImageError) as info:
        codec.inspect(bomb + chunk(b"IEND", b""), what="baseline_image")
    assert info.value.code == "image_too_large" and "too large" in info.value.message and info.value.fix
