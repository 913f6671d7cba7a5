"""imagegen-mcp: an MCP server that lets AI agents make images.

Import-light on purpose: hosts start the server on every launch, so heavy modules (the MCP SDK,
Pillow, httpx2) are imported only where they are used.
"""

__version__ = "0.1.0"
