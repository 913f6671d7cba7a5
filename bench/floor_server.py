"""The cold-start floor: a bare one-tool ``MCPServer`` over stdio (what the SDK itself costs)."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("floor")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    server.run()
