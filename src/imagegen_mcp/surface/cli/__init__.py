"""The ``imagegen-mcp`` command line."""

from imagegen_mcp.surface.cli.main import main

__all__ = ["main"]
