"""Fixtures for the ``openai`` and ``compatible`` providers: loopback OpenAI emulators, one per session each
(OpenAI mode at ``/v1``, a gateway at ``/v1``, a gateway at the root), reset between tests.

Also a relay: a loopback "gateway" on another port that forwards every request to an emulator unchanged,
so the image URLs in its answers point at a foreign origin (the emulator's), as a gateway fronting
someone else's storage would.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.emulator.openai import OpenAIEmulator
from tests.emulator.openrouter.server import LoopbackServer

KNOBS = ("latency_s", "url_lifetime_s", "prompt_limit", "models_route", "edits_route", "error_style")


def _fresh(server: OpenAIEmulator) -> Iterator[OpenAIEmulator]:
    saved = {name: getattr(server, name) for name in KNOBS}
    models = server.models
    server.reset()
    yield server
    server.reset()
    server.clear_faults()
    server.models = models
    for name, value in saved.items():
        setattr(server, name, value)


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator() as emu:
        yield emu


@pytest.fixture
def openai_emu(openai_server: OpenAIEmulator) -> Iterator[OpenAIEmulator]:
    yield from _fresh(openai_server)


@pytest.fixture(scope="session")
def gateway_server() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(gateway=True) as emu:  # API under /v1; root_url is the bare host
        yield emu


@pytest.fixture
def gateway(gateway_server: OpenAIEmulator) -> Iterator[OpenAIEmulator]:
    yield from _fresh(gateway_server)


@pytest.fixture(scope="session")
def root_gateway_server() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(gateway=True, prefix="") as emu:  # API at the root, no /v1 anywhere
        yield emu


@pytest.fixture
def root_gateway(root_gateway_server: OpenAIEmulator) -> Iterator[OpenAIEmulator]:
    yield from _fresh(root_gateway_server)


class Relay:
    """Forwards every request to ``target`` (its own port, same loopback host): a different origin."""

    def __init__(self, target: str) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def forward(request: Request) -> Response:
            async with httpx2.AsyncClient(timeout=10) as client:
                upstream = await client.request(
                    request.method,
                    f"{target}{request.url.path}",
                    content=await request.body(),
                    headers={
                        k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")
                    },
                )
            kept = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-type",)}
            return Response(upstream.content, status_code=upstream.status_code, headers=kept)

        app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])
        self._server = LoopbackServer(app, "127.0.0.1", 0, "relay")
        self.url = f"http://127.0.0.1:{self._server.start()}"

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def relay(gateway: OpenAIEmulator) -> Iterator[Relay]:
    r = Relay(gateway.root_url)
    yield r
    r.stop()
