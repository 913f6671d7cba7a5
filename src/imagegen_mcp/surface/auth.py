"""Bearer-token authentication for the HTTP transports (stdio never sees it).

When ``IMAGEGEN_MCP_TOKEN`` is set, every HTTP request must carry ``Authorization: Bearer <token>``;
the comparison is constant-time, and a rejection (401 from the SDK's middleware) says nothing about
the server beyond "invalid token".
"""

from __future__ import annotations

import secrets
from typing import Any

from mcp.server.auth.provider import AccessToken, TokenVerifier

SCOPE = "imagegen"


class StaticTokenVerifier(TokenVerifier):
    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if secrets.compare_digest(token.encode(), self._token):
            return AccessToken(token="redacted", client_id="imagegen-token", scopes=[SCOPE])
        return None


def server_auth_kwargs(token: str | None, issuer: str = "http://127.0.0.1") -> dict[str, Any]:
    """``MCPServer`` keyword arguments that require the token on HTTP, or nothing without one."""
    if not token:
        return {}
    from mcp.server.auth.settings import AuthSettings
    from pydantic import AnyHttpUrl

    return {
        "token_verifier": StaticTokenVerifier(token),
        "auth": AuthSettings(issuer_url=AnyHttpUrl(issuer), resource_server_url=None, required_scopes=[SCOPE]),
    }
