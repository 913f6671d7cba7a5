"""Running the server: stdio (the default), Streamable HTTP or SSE.

stdio is sacred: nothing but protocol on stdout, logs on stderr. The server exits 0 when stdin
closes (what hosts do) and shuts down cleanly on SIGTERM or SIGINT: the lifespan's ``finally``
runs, then the process exits even though the SDK's stdin reader thread never returns.

HTTP transports bind 127.0.0.1 by default; any other bind needs ``IMAGEGEN_MCP_TOKEN``. They run
under uvicorn as :mod:`http_runner` configures it: logs on stderr only and redacted, a deadline for
request headers, a connection cap, and a graceful exit 0 on SIGTERM.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

import anyio

from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ConfigError

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings

# After a signal, give the lifespan at most this long to close before the process exits anyway.
SHUTDOWN_GRACE_S = 5.0


def serve(settings: Settings, *, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8000,
          path: str | None = None, header_timeout_s: float | None = None,
          max_connections: int | None = None) -> int:  # fmt: skip
    from imagegen_mcp.surface.server import build_server

    settings.check_dirs()  # ConfigError: the CLI exits 2 naming the variable
    if transport != "stdio" and not is_loopback(host) and not settings.mcp_token:
        raise ConfigError(
            f"refusing to serve {transport} on {host} without a token: anyone who reaches it could spend your credits",
            "export IMAGEGEN_MCP_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
            "or bind --host 127.0.0.1",
        )
    security = host_checks(host, settings.allowed_hosts) if transport != "stdio" else None
    from imagegen_mcp.memory import return_large_buffers

    return_large_buffers()  # big image buffers go back to the system when freed (memory.py)
    closed = threading.Event()
    mcp = build_server(settings, on_closed=closed.set)
    if transport != "stdio":
        from imagegen_mcp.surface import http_runner

        http_runner.install_log_redaction(settings.secrets())
        if transport == "http":
            app = mcp.streamable_http_app(streamable_http_path=path or "/mcp", transport_security=security, host=host)
        else:
            app = http_runner.one_response(mcp.sse_app(sse_path=path or "/sse", transport_security=security, host=host))
        header_s = header_timeout_s or http_runner.HEADER_TIMEOUT_S
        cap = max_connections or http_runner.MAX_CONNECTIONS
        run = http_runner.run_http
        anyio.run(lambda: run(app, host=host, port=port, header_timeout_s=header_s, max_connections=cap))
        sys.stdout.flush()
        return 0

    def exit_when_closed() -> None:
        # The SDK's stdin reader thread never returns, so anyio.run would wait for EOF forever.
        closed.wait(SHUTDOWN_GRACE_S)
        sys.stdout.flush()
        os._exit(0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        tg.cancel_scope.cancel()
                        threading.Thread(target=exit_when_closed, daemon=True).start()
                        return

            tg.start_soon(stop_on_signal)
            await mcp.run_stdio_async()
            tg.cancel_scope.cancel()

    anyio.run(main)
    sys.stdout.flush()
    return 0


def host_checks(bind: str, extra: tuple[str, ...]) -> TransportSecuritySettings:
    """DNS-rebinding protection that stays on for every bind (the SDK drops it for 0.0.0.0).

    Allowed ``Host`` values: the loopback names, the bind address when it is a specific one, and
    ``IMAGEGEN_ALLOWED_HOSTS`` (the names clients use to reach a remote server); ``Origin`` the same
    over http and https. Any port is allowed for each.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    names = ["127.0.0.1", "localhost", "[::1]", *extra]
    if bind not in ("0.0.0.0", "::", "") and bind not in names:
        names.append(f"[{bind}]" if ":" in bind else bind)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[h for name in names for h in (name, f"{name}:*")],
        allowed_origins=[
            f"{scheme}://{name}{port}" for name in names for scheme in ("http", "https") for port in ("", ":*")
        ],
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
