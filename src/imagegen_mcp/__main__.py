"""``python -m imagegen_mcp`` — the same as the ``imagegen-mcp`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
