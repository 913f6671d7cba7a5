"""``imagegen-mcp edit`` and ``imagegen-mcp upscale``: the edit_image and upscale_image tools on the command line.

Both build the same :class:`~imagegen_mcp.models.GenerateRequest` the tools build and call the one
pipeline; errors name the CLI flags (:mod:`imagegen_mcp.fixes`). ``--expand`` takes ``side=pixels``
pairs (``--expand left=256 right=256``); ``--mask-box`` four fractions.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imagegen_mcp.providers.registry import NAMES

EDIT_MODES = ("edit", "inpaint", "outpaint", "erase", "style_transfer", "variation", "remove_background")


def add_parsers(sub: Any) -> None:
    edit = sub.add_parser("edit", help="edit an image once, as the edit_image tool does")
    edit.add_argument("image", help="file path, https URL or imagegen://images/ uri")
    edit.add_argument("--mode", choices=EDIT_MODES, default="edit")
    edit.add_argument("--prompt", default="", help="the change (edit), or what fills the mask (inpaint)")
    edit.add_argument("--mask", help="mask image: white = change (or transparent = change)")
    edit.add_argument("--mask-box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="fractions 0-1")
    edit.add_argument("--expand", nargs="+", metavar="SIDE=PX", help="outpaint: left=, right=, up=, down=")
    edit.add_argument("--aspect-ratio", help="outpaint: grow the canvas to this shape, e.g. 16:9")
    edit.add_argument("--style-image", help="style_transfer: the picture whose style to use")
    edit.add_argument("--reference", action="append", dest="references", default=[], help="repeatable, up to 8")
    edit.add_argument("--consistency", choices=["strict", "balanced", "loose"])
    edit.add_argument("--strength", type=float, help="0 (keep) to 1 (free)")
    edit.add_argument("--negative-prompt")
    edit.add_argument("--seed", type=int)
    edit.add_argument("-n", type=int, default=1, help="number of images (1-4)")
    _common(edit)

    up = sub.add_parser("upscale", help="upscale an image once, as the upscale_image tool does")
    up.add_argument("image", help="file path, https URL or imagegen://images/ uri")
    up.add_argument("--scale", type=int, choices=[2, 4], default=2)
    up.add_argument("--mode", choices=["fast", "conservative", "creative"], default="fast")
    up.add_argument("--prompt", default="", help="creative: what the picture shows")
    _common(up)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model")
    p.add_argument("--provider", choices=NAMES)
    p.add_argument("--out", help="path relative to the output directory; a trailing / names a directory")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--confirm-external-upload", action="store_true", help="allow uploading local files")
    p.add_argument("--dry-run", action="store_true", help="check and show the plan; send nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def cmd_edit(args: argparse.Namespace) -> int:
    expand: dict[str, Any] | None = None
    if args.expand:
        expand = {}
        for pair in args.expand:
            side, _, value = pair.partition("=")
            if not value.strip().isdigit():
                print(f"imagegen-mcp: --expand {pair!r}: give side=pixels, e.g. left=256", file=sys.stderr)
                return 2
            expand[side.strip()] = int(value)
    fields = dict(
        operation=args.mode, image=args.image, prompt=args.prompt, mask=args.mask, mask_box=args.mask_box,
        expand=expand, aspect_ratio=args.aspect_ratio, style_image=args.style_image, references=args.references,
        consistency=args.consistency, strength=args.strength, negative_prompt=args.negative_prompt, seed=args.seed,
        n=args.n,
    )  # fmt: skip
    return _run(args, fields)


def cmd_upscale(args: argparse.Namespace) -> int:
    return _run(args, dict(operation="upscale", image=args.image, scale=args.scale, upscale_mode=args.mode,
                           prompt=args.prompt))  # fmt: skip


def _run(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    import anyio
    from pydantic import ValidationError

    from imagegen_mcp.config import Settings
    from imagegen_mcp.errors import ImagegenError, redact
    from imagegen_mcp.fixes import CLI_FLAGS, cli_text
    from imagegen_mcp.models import GenerateRequest, problems
    from imagegen_mcp.pipeline import LintOptions, generate, open_services
    from imagegen_mcp.surface.edit_tools import headline
    from imagegen_mcp.surface.server import summary

    settings = Settings.from_env()
    try:
        request = GenerateRequest(
            **fields, model=args.model, provider=args.provider, out=args.out, overwrite=args.overwrite,
            confirm_external_upload=args.confirm_external_upload,
        )  # fmt: skip
    except ValidationError as exc:
        print(f"imagegen-mcp: invalid arguments: {problems(exc, flags=CLI_FLAGS)}", file=sys.stderr)
        return 2

    async def run() -> Any:
        async with open_services(settings) as services:
            lint = LintOptions(allow_no_baseline_on_edit_intent=True)
            return await generate(services, request, dry_run=args.dry_run, lint_options=lint)

    try:
        result = anyio.run(run)
    except ImagegenError as exc:
        print(f"imagegen-mcp: {redact(cli_text(exc), settings.secrets())}", file=sys.stderr)
        return 1
    print(result.model_dump_json(indent=2) if args.json else f"{headline(result)}: {summary(result)}")
    return 0


COMMANDS = {"edit": cmd_edit, "upscale": cmd_upscale}
