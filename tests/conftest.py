"""Shared fixtures: the loopback OpenRouter emulator, settings that point at it, an MCP client.

Nothing here reaches the internet: every provider request goes to the emulator on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client

from imagegen_mcp.config import Settings
from imagegen_mcp.surface.server import build_server
from tests.emulator.openrouter import Emulator

pytest_plugins = [
    "tests.openai_fixtures",
    "tests.storage.s3_fixtures",
    "tests.bfl_fal_fixtures",
    "tests.pg_fixtures",
    "tests.localsd_fixtures",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(emulator_server: Emulator) -> Iterator[Emulator]:
    """The session's emulator, reset between tests: faults, request log, and every knob a test turned."""
    knobs = (
        "latency_s",
        "key_limit_remaining",
        "generation_lookup_delay_s",
        "scale_divisor",
        "max_body_bytes",
    )
    saved = {name: getattr(emulator_server, name) for name in knobs}
    emulator_server.reset()
    yield emulator_server
    emulator_server.reset()
    for name, value in saved.items():
        setattr(emulator_server, name, value)


@pytest.fixture
def settings(tmp_path: Path, emulator: Emulator) -> Settings:
    return Settings(
        output_dir=tmp_path / "out",
        queue_dir=tmp_path / "queue",
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        provider="openrouter",
        progress_interval_s=0.2,
        retry_backoff_s=0.01,
        request_timeout_s=10,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings)) as c:
        yield c


def with_settings(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
