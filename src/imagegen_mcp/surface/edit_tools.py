"""``edit_image`` and ``upscale_image``: thin tools over the one pipeline.

Their argument lists are kept short for the tools/list budget (issue 16): routing preferences come
from the server's configuration (``IMAGEGEN_PREFERRED`` …) or ``provider`` pins one; the prompt
linter runs with its defaults (hints on, not strict).

Each builds one :class:`~imagegen_mcp.models.GenerateRequest` whose ``operation`` is the edit mode
(or ``upscale``) and hands it to :func:`imagegen_mcp.pipeline.generate`, which checks and prepares the
inputs (:mod:`imagegen_mcp.operations`), routes, saves and records. The result is the same shape as
``generate_image``'s (preview, a resource link per file, cost, attempts), its ``operation`` the mode
performed. A dry run shows the provider chain and the prepared sizes, and for inpaint/erase a
preview of the mask: the image with the area to change tinted red.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Annotations, CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from imagegen_mcp.errors import ImagegenError, redact
from imagegen_mcp.models import (
    EditMode,
    GenerateRequest,
    GenerateResult,
    UpscaleMode,
    dump,
    problems,
)
from imagegen_mcp.pipeline import LintOptions, Services, generate
from imagegen_mcp.surface import params
from imagegen_mcp.surface.boundary import ImagegenServer

Ctx = Context[Services, Any]

EDIT_DESCRIPTION = """\
Edit an image (result as generate_image). inpaint/erase need mask|mask_box, outpaint \
expand|aspect_ratio, style_transfer style_image."""

UPSCALE_DESCRIPTION = "Upscale 2x/4x; result as generate_image; creative needs prompt."

ANNOTATIONS = {"read_only_hint": False, "destructive_hint": False, "idempotent_hint": False, "open_world_hint": True}


def register_edit_tools(mcp: ImagegenServer) -> None:
    @mcp.tool(
        description=EDIT_DESCRIPTION,  # no title: hosts show the name (tools/list budget)
        annotations=ToolAnnotations(**ANNOTATIONS),
    )
    async def edit_image(
        ctx: Ctx,
        image: params.ImageRef,
        mode: EditMode,
        prompt: params.OptionalPrompt = None,
        mask: Annotated[str | None, Field(max_length=4096, description="White = change")] = None,
        mask_box: Annotated[
            list[float] | None, Field(min_length=4, max_length=4, description="[x0,y0,x1,y1], 0-1")
        ] = None,
        expand: Annotated[dict[str, int] | None, Field(description="Pixels: left/right/up/down")] = None,
        aspect_ratio: params.Aspect = None,
        style_image: params.StyleImage = None,
        references: params.References = None,
        consistency: params.ConsistencyArg = None,
        strength: Annotated[float | None, Field(ge=0, le=1, description="0 = keep, 1 = free")] = None,
        negative_prompt: params.NegativePrompt = None,
        seed: params.Seed = None,
        n: params.N = 1,
        model: params.Model = None,
        provider: params.ProviderArg = None,
        out: params.Out = None,
        overwrite: params.Overwrite = False,
        return_image: params.ReturnImageArg = "preview",
        dry_run: params.DryRun = False,
        confirm_external_upload: params.ConfirmUpload = False,
        must_keep: params.MustKeep | None = None,
    ) -> Annotated[CallToolResult, GenerateResult]:
        fields = dict(
            operation=mode, image=image, prompt=prompt or "", mask=mask, mask_box=mask_box, expand=expand,
            aspect_ratio=aspect_ratio, style_image=style_image, references=references or [], consistency=consistency,
            strength=strength, negative_prompt=negative_prompt, seed=seed, n=n, model=model, provider=provider,
            out=out, overwrite=overwrite, confirm_external_upload=confirm_external_upload, must_keep=must_keep or [],
        )  # fmt: skip
        lint = LintOptions(allow_no_baseline_on_edit_intent=True)
        return await run_tool(ctx, fields, lint, dry_run=dry_run, return_image=return_image)

    @mcp.tool(
        description=UPSCALE_DESCRIPTION,
        annotations=ToolAnnotations(**ANNOTATIONS),
    )
    async def upscale_image(
        ctx: Ctx,
        image: params.ImageRef,
        scale: Literal[2, 4] = 2,
        mode: UpscaleMode = "fast",
        prompt: params.OptionalPrompt = None,
        model: params.Model = None,
        provider: params.ProviderArg = None,
        out: params.Out = None,
        overwrite: params.Overwrite = False,
        return_image: params.ReturnImageArg = "preview",
        dry_run: params.DryRun = False,
        confirm_external_upload: params.ConfirmUpload = False,
    ) -> Annotated[CallToolResult, GenerateResult]:
        fields = dict(
            operation="upscale", image=image, scale=scale, upscale_mode=mode, prompt=prompt or "",
            model=model, provider=provider, out=out, overwrite=overwrite,
            confirm_external_upload=confirm_external_upload,
        )  # fmt: skip
        lint = LintOptions(allow_no_baseline_on_edit_intent=True)
        return await run_tool(ctx, fields, lint, dry_run=dry_run, return_image=return_image)


async def run_tool(
    ctx: Ctx, fields: dict[str, Any], lint: LintOptions, *, dry_run: bool, return_image: str
) -> CallToolResult:
    """Validate, run the pipeline, render: the body both tools share."""
    from imagegen_mcp.surface.server import render, tool_error

    services: Services = ctx.request_context.lifespan_context
    try:
        request = GenerateRequest(**fields)
    except ValidationError as exc:
        raise ToolError(redact(f"invalid arguments: {problems(exc)}", services.settings.secrets())) from None
    try:
        result = await generate(services, request, dry_run=dry_run, lint_options=lint, progress=ctx.report_progress)
        with_preview = return_image == "preview"
        content = await anyio.to_thread.run_sync(render, result, with_preview and bool(result.images))
        if with_preview and result.mask_preview is not None:
            content.append(await anyio.to_thread.run_sync(preview_block, result.mask_preview))
    except ImagegenError as exc:
        raise tool_error(exc, services.settings) from None
    first = content[0]
    if isinstance(first, TextContent):
        content[0] = TextContent(type="text", text=f"{headline(result)}: {first.text}")
    return CallToolResult(content=content, structured_content=dump(result))


def headline(result: GenerateResult) -> str:
    """``inpaint 1024x768 → 1024x768`` (dry runs show the prepared sizes), or just the operation."""
    prepared = result.request.prepared if result.request else None
    if prepared:
        (w, h), (ow, oh) = prepared["input_size"], prepared["output_size"]
        return f"{result.operation} {w}x{h} → {ow}x{oh}"
    return result.operation


def preview_block(png: bytes) -> ContentBlock:
    from imagegen_mcp.imaging import previews

    data = previews.preview(png)
    return ImageContent(
        type="image",
        data=base64.b64encode(data).decode(),
        mime_type="image/jpeg",
        annotations=Annotations(audience=["user", "assistant"]),
    )
