"""``python -m imagegen_mcp`` — the same as the ``imagegen-mcp`` command."""

from imagegen_mcp.surface.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
