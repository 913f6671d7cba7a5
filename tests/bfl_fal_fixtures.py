"""Fixtures for the ``bfl`` and ``fal`` providers: one loopback emulator of each per session, reset
between tests, and a foreign origin (another port) whose every hit is recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.bfl import BFLEmulator
from tests.emulator.fal import FalEmulator
from tests.emulator.jobs import ForeignOrigin, foreign_origin


@pytest.fixture(scope="session")
def bfl_server() -> Iterator[BFLEmulator]:
    with BFLEmulator() as emu:
        yield emu


@pytest.fixture
def bfl_emu(bfl_server: BFLEmulator) -> Iterator[BFLEmulator]:
    bfl_server.reset()
    yield bfl_server
    bfl_server.reset()
    bfl_server.clear_faults()
    bfl_server.pending_polls, bfl_server.active_limit, bfl_server.send_cost = 1, 24, True


@pytest.fixture(scope="session")
def fal_server() -> Iterator[FalEmulator]:
    with FalEmulator() as emu:
        yield emu


@pytest.fixture
def fal_emu(fal_server: FalEmulator) -> Iterator[FalEmulator]:
    fal_server.reset()
    yield fal_server
    fal_server.reset()
    fal_server.clear_faults()
    fal_server.queue_polls, fal_server.progress_polls = 1, 1


@pytest.fixture
def foreign() -> Iterator[ForeignOrigin]:
    yield from foreign_origin()
