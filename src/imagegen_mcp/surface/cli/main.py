"""``imagegen-mcp``: serve · preflight · generate · edit · upscale · lint · schemas · demo.

Every verb reads the same settings and calls the same pipeline as the tools. Human output goes to
stdout for the CLI verbs; ``serve`` over stdio writes nothing but protocol to stdout (logs go to
stderr). Exit codes: 0 done / ready, 1 not ready or the request failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from imagegen_mcp import __version__
from imagegen_mcp.providers.registry import NAMES
from imagegen_mcp.surface.cli import edits as cli_edits
from imagegen_mcp.surface.cli import queue as cli_queue

ASPECT_HELP = "e.g. 1:1, 16:9, 9:16"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    from imagegen_mcp.errors import ConfigError, ImagegenError, redact, translate
    from imagegen_mcp.fixes import cli_text

    try:
        handler = COMMANDS[args.command]
        return int(handler(args))
    except ConfigError as exc:
        print(f"imagegen-mcp: configuration error: {redact(cli_text(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the CLI's boundary: words and a fix, never a traceback (unless -v)
        known = exc if isinstance(exc, ImagegenError) else translate(exc, paths="--out / --out-dir")
        if known is not None:
            print(f"imagegen-mcp: {redact(cli_text(known))}", file=sys.stderr)
            return 1
        logging.getLogger("imagegen_mcp").debug("unexpected error", exc_info=True)
        print(
            f"imagegen-mcp: internal error: {type(exc).__name__} — run again with -v for details; "
            "if it repeats, run imagegen-mcp preflight and report the output",
            file=sys.stderr,
        )
        return 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imagegen-mcp", description="An MCP server that lets AI agents make images.")
    p.add_argument("--version", action="version", version=f"imagegen-mcp {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    p.set_defaults(command="serve", transport="stdio", host="127.0.0.1", port=8000, path=None, header_timeout=None,
                   max_connections=None)  # fmt: skip

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--path", default=None, help="endpoint path (default /mcp for http, /sse for sse)")
    serve.add_argument(
        "--header-timeout", type=float, default=None, metavar="S",
        help="http/sse: close a connection whose request headers take longer than S seconds (default 10)",
    )  # fmt: skip
    serve.add_argument(
        "--max-connections", type=int, default=None, metavar="N",
        help="http/sse: concurrent connections before answering 503 (default 512)",
    )  # fmt: skip

    pre = sub.add_parser("preflight", help="check that images can be generated (exit 1 when not)")
    pre.add_argument("--json", action="store_true", help="print the report as JSON")
    pre.add_argument("--provider", choices=NAMES)
    pre.add_argument("--model")

    gen = sub.add_parser("generate", help="generate images once, as the generate_image tool does")
    gen.add_argument("prompt")
    gen.add_argument("--model")
    gen.add_argument("--image-size", choices=["low", "medium", "high"])
    gen.add_argument("--aspect-ratio", help=ASPECT_HELP)
    gen.add_argument("-n", type=int, default=1, help="number of images (1-4)")
    gen.add_argument("--out", help="path relative to the output directory; a trailing / names a directory")
    gen.add_argument("--overwrite", action="store_true")
    gen.add_argument("--surface", choices=["auto", "images", "chat"], default="auto")
    gen.add_argument("--provider", choices=NAMES)
    gen.add_argument("--dry-run", action="store_true", help="validate and lint only; send nothing")
    gen.add_argument("--strict", action="store_true", help="refuse ambiguous prompts (strict_clarify)")
    gen.add_argument("--allow-no-baseline", action="store_true", help="allow an edit-like prompt without an image")
    gen.add_argument("--json", action="store_true", help="print the result as JSON")

    cli_edits.add_parsers(sub)  # edit · upscale

    lint = sub.add_parser("lint", help="check a prompt for clarity problems (exit 1 in --strict when refused)")
    lint.add_argument("prompt")
    lint.add_argument("--model")
    lint.add_argument("--aspect-ratio", help=ASPECT_HELP)
    lint.add_argument("-n", type=int, default=1)
    lint.add_argument("--baseline", action="store_true", help="a baseline image will be attached")
    lint.add_argument("--strict", action="store_true")
    lint.add_argument("--json", action="store_true")

    schemas = sub.add_parser("schemas", help="export the live tool schemas to the checkout's tool_schemas/")
    schemas.add_argument(
        "--out", default=None, metavar="DIR",
        help="directory to write or check (default: tool_schemas/ of the source checkout; required otherwise)",
    )  # fmt: skip
    schemas.add_argument("--check", action="store_true", help="exit 1 if the files differ from the live schemas")

    demo = sub.add_parser("demo", help="start the server over stdio as a host would and make an image")
    demo.add_argument("--prompt", default=None)

    cli_queue.add_parsers(sub)  # enqueue · worker · status · cancel
    dflt = sub.add_parser("defaults", help="remember defaults: defaults set model=… style=… aspect_ratio=… out_dir=…")
    dflt.add_argument("action", choices=["set", "show"])
    dflt.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="KEY= forgets a default")
    return p


# --------------------------------------------------------------------------- verbs


def cmd_serve(args: argparse.Namespace) -> int:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.surface.transport import serve

    settings = Settings.from_env()
    if settings.queue_url:  # the team shape: a replica without its database must not start
        from imagegen_mcp.queue.store import make_store

        make_store(settings).open().close()  # reachable, created or migrated; else a StorageError naming it
    return serve(
        settings, transport=args.transport, host=args.host, port=args.port, path=args.path,
        header_timeout_s=args.header_timeout, max_connections=args.max_connections,
    )  # fmt: skip


def cmd_preflight(args: argparse.Namespace) -> int:
    import anyio

    from imagegen_mcp.config import Settings
    from imagegen_mcp.pipeline import open_services
    from imagegen_mcp.surface.preflight import run_preflight

    async def run() -> Any:
        async with open_services(Settings.from_env()) as services:
            return await run_preflight(services, args.provider, args.model)

    report = anyio.run(run)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(report.summary())
        for c in report.checks:
            print(f"  {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
            if not c.ok and c.fix:
                print(f"       fix: {c.fix}")
    return 0 if report.ok else 1


def cmd_generate(args: argparse.Namespace) -> int:
    import anyio
    from pydantic import ValidationError

    from imagegen_mcp.config import Settings
    from imagegen_mcp.errors import ImagegenError, redact
    from imagegen_mcp.fixes import CLI_FLAGS, cli_text
    from imagegen_mcp.models import GenerateRequest, problems
    from imagegen_mcp.pipeline import LintOptions, generate, open_services
    from imagegen_mcp.surface.server import summary

    settings = Settings.from_env()
    try:
        request = GenerateRequest(
            prompt=args.prompt, model=args.model, image_size=args.image_size, aspect_ratio=args.aspect_ratio,
            n=args.n, out=args.out, overwrite=args.overwrite, surface=args.surface, provider=args.provider,
        )  # fmt: skip
    except ValidationError as exc:
        print(f"imagegen-mcp: invalid arguments: {problems(exc, flags=CLI_FLAGS)}", file=sys.stderr)
        return 2
    options = LintOptions(strict_clarify=args.strict, allow_no_baseline_on_edit_intent=args.allow_no_baseline)

    async def run() -> Any:
        async with open_services(settings) as services:
            return await generate(services, request, dry_run=args.dry_run, lint_options=options)

    try:
        result = anyio.run(run)
    except ImagegenError as exc:
        print(f"imagegen-mcp: {redact(cli_text(exc), settings.secrets())}", file=sys.stderr)
        return 1
    print(result.model_dump_json(indent=2) if args.json else summary(result))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from imagegen_mcp.lint import LintContext, lint

    report = lint(
        args.prompt,
        LintContext(model=args.model, aspect_ratio=args.aspect_ratio, has_baseline=args.baseline, count=args.n),
    )
    if args.strict:
        report = report.strict()
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        if not report.hints:
            print("no hints: the prompt reads clearly")
        for h in report.hints:
            where = f" at {h.span[0]}-{h.span[1]}" if h.span else ""
            print(f"{h.severity:7} {h.rule}{where}: {h.message}\n        fix: {h.fix}")
    return 1 if args.strict and not report.ok else 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from pathlib import Path

    import anyio

    from imagegen_mcp.surface.schemas import checkout_dir, export, live_schemas

    target = Path(args.out) if args.out else checkout_dir()
    if target is None:
        print(
            "imagegen-mcp schemas: this is not a source checkout, so there is no tool_schemas/ to update — "
            "pass --out DIR",
            file=sys.stderr,
        )
        return 2
    schemas = anyio.run(live_schemas)
    out = target
    if args.check:
        saved = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
        if saved != schemas:
            print(
                f"tool schemas in {out} differ from the live server: run 'imagegen-mcp schemas'",
                file=sys.stderr,
            )
            return 1
        print(f"tool schemas in {out} match the live server")
        return 0
    for path in export(schemas, out):
        print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from imagegen_mcp.surface.cli.demo import run_demo

    return run_demo(args.prompt)


def cmd_defaults(args: argparse.Namespace) -> int:
    """``defaults set KEY=VALUE …`` writes the per-user file; ``defaults show`` prints what is in force."""
    import os

    from imagegen_mcp import defaults
    from imagegen_mcp.config import Settings
    from imagegen_mcp.errors import ConfigError

    if args.action == "set":
        changes = {}
        for pair in args.pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ConfigError(f"{pair!r} is not KEY=VALUE", "write e.g. imagegen-mcp defaults set style=anime")
            changes[key.strip()] = value.strip()
        if not changes:
            raise ConfigError("nothing to set", f"give KEY=VALUE pairs; keys: {', '.join(defaults.KEYS)}")
        defaults.save(os.environ, changes)
        print(f"saved to {defaults.path(os.environ)}")
    settings = Settings.from_env()
    shown = {
        "model": settings.model, "style": settings.default_style, "aspect_ratio": settings.default_aspect_ratio,
        "image_size": settings.default_image_size, "out_dir": str(settings.output_dir),
    }  # fmt: skip
    for key in defaults.KEYS:
        where = settings.default_sources.get(key, "built-in")
        print(f"{key} = {shown[key] if shown[key] is not None else '(none)'}  [{where}]")
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "preflight": cmd_preflight,
    "generate": cmd_generate,
    **cli_edits.COMMANDS,
    "lint": cmd_lint,
    "schemas": cmd_schemas,
    "demo": cmd_demo,
    **cli_queue.COMMANDS,
    "defaults": cmd_defaults,
}
