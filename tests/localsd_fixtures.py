"""Fixtures for the local Stable Diffusion providers: loopback AUTOMATIC1111 and ComfyUI emulators, one
per session each (reset between tests), plus a second, unconfigured one of each ("bystanders") whose
logs prove nothing is sent anywhere but the configured URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.a1111 import A1111Emulator


@pytest.fixture(scope="session")
def a1111_server() -> Iterator[A1111Emulator]:
    with A1111Emulator() as emu:
        yield emu


@pytest.fixture
def a1111(a1111_server: A1111Emulator) -> Iterator[A1111Emulator]:
    a1111_server.reset()
    yield a1111_server
    a1111_server.reset()


@pytest.fixture
def bystander() -> Iterator[A1111Emulator]:
    """An emulator nobody configured: its request log must stay empty."""
    with A1111Emulator() as a:
        yield a
