"""The one error boundary of the MCP surface: every tool and resource failure leaves here as words.

- **Arguments.** The SDK validates tool arguments in lax mode (``n: "2"`` becomes two billed images)
  and after a JSON pre-parse that turns ``out: "null"`` into ``None``; its errors are pydantic's raw
  text. :class:`StrictArguments` replaces each tool's argument validation: JSON-strict types, unknown
  arguments refused, and only list/object arguments sent as JSON text (a known Claude Desktop habit)
  unwrapped. :meth:`ImagegenServer.call_tool` words the failure with :func:`problems.explain`
  against the tool's advertised ``inputSchema``.
- **Failures.** A project error becomes ``message — fix``; a known foreign one (a path too long, a
  database error, an undecodable image) is translated by :func:`errors.translate`; anything else is
  an ``internal error in <tool>`` whose traceback goes to the server log only, redacted.
- **Resources.** An unknown resource is the SDK's not-found error, with the code of the client's
  protocol era (``-32602`` from 2026-07-28 on, ``-32002`` before; the SDK sends ``-32602`` to both).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterable
from typing import Any

from mcp import MCPError
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ResourceNotFoundError,
    ToolError,
    UnexpectedResourceError,
    UnexpectedToolError,
)
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, ResourceLink, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from pydantic_core import InitErrorDetails

from imagegen_mcp.errors import ImagegenError, redact, translate
from imagegen_mcp.imaging import codec
from imagegen_mcp.pipeline import Services
from imagegen_mcp.problems import explain
from imagegen_mcp.surface.diet import diet_annotations, diet_input, diet_output, diet_repeats

log = logging.getLogger("imagegen_mcp")

# Before 2026-07-28 the spec's code for "resource not found" (SEP-2164 moved it to -32602).
LEGACY_RESOURCE_NOT_FOUND = -32002
# The arguments that choose file names, per tool: named when a path turns out too long.
PATH_ARGS = {"generate_image": "out", "enqueue_images": "out_dir or prefix"}


class StrictArguments(FuncMetadata):
    """A tool's argument validation: JSON-strict, no unknown arguments, no string-to-value guessing."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        fields = self.arg_model.model_fields
        names = {(info.alias or name): name for name, info in fields.items()}
        props = self.arg_model.model_json_schema(by_alias=True).get("properties", {})
        known = {k: unwrap_json_text(v, props.get(k, {})) for k, v in arguments_to_validate.items() if k in names}
        errors: list[InitErrorDetails] = [
            {"type": "extra_forbidden", "loc": (k,), "input": v}
            for k, v in arguments_to_validate.items()
            if k not in names
        ]
        model = None
        try:
            try:
                text = json.dumps(known)
            except (TypeError, ValueError):  # not JSON-shaped: only in-process callers can send that
                model = self.arg_model.model_validate(known, strict=True)
            else:
                model = self.arg_model.model_validate_json(text, strict=True)
        except ValidationError as exc:
            errors += [
                {"type": e["type"], "loc": e["loc"], "input": e["input"], **({"ctx": e["ctx"]} if "ctx" in e else {})}  # type: ignore[typeddict-item]
                for e in exc.errors()
            ]
        if errors or model is None:
            raise ValidationError.from_exception_data(self.arg_model.__name__, errors)
        return model.model_dump_one_level()


def unwrap_json_text(value: Any, schema: dict[str, Any]) -> Any:
    """A list or object sent as JSON text, for an argument that takes no string, becomes the value."""
    if not isinstance(value, str) or admits(schema, "string"):
        return value
    if not (admits(schema, "array") or admits(schema, "object")):
        return value
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return value
    return parsed if isinstance(parsed, list | dict) else value


def admits(schema: dict[str, Any], kind: str) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == kind or (kind == "string" and "enum" in o) for o in options)


class ImagegenServer(MCPServer[Services]):
    """``MCPServer`` with strict arguments, dieted schemas (surface/diet.py), worded errors, era-correct
    not-found codes and real image MIME types."""

    secrets: tuple[str, ...] = ()
    resource_links: bool = True  # IMAGEGEN_RESOURCE_LINKS=off: links become text (see without_links)

    def add_tool(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        super().add_tool(fn, *args, **kwargs)
        name = kwargs.get("name") or (args[0] if args else None) or fn.__name__
        tool = self._tool_manager.get_tool(name)
        if tool is not None and not isinstance(tool.fn_metadata, StrictArguments):
            meta = tool.fn_metadata
            tool.parameters = diet_input(tool.parameters)
            tool.annotations = diet_annotations(tool.annotations, tool.title)
            tool.fn_metadata = StrictArguments(
                arg_model=meta.arg_model,
                output_schema=diet_output(meta.output_schema),
                output_model=meta.output_model,
                wrap_output=meta.wrap_output,
            )

    async def list_tools(self) -> list[Any]:
        return diet_repeats(await super().list_tools())

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            result = await super().call_tool(name, arguments, context)
            return result if self.resource_links else without_links(result)
        except UnexpectedToolError as exc:
            raise self.crash(f"tool {name}", name, root_cause(exc)) from None
        except ToolError as exc:
            cause = exc.__cause__
            tool = self._tool_manager.get_tool(name)
            if isinstance(cause, ValidationError) and tool is not None:
                # The full schema (bounds, enums), not the dieted one hosts see: the words name every limit.
                schema = tool.fn_metadata.arg_model.model_json_schema(by_alias=True)
                known = [k for k in schema.get("properties", {})]
                text = explain(cause, schema=schema, known=known, where=name)
                raise ToolError(redact(f"invalid arguments: {text}", self.secrets)) from cause
            if isinstance(cause, ImagegenError):  # raised by a resolver or a nested read
                raise ToolError(redact(str(cause), self.secrets)) from None
            # The tool's own words, without the SDK's "Error executing tool <name>: " in front.
            text = str(exc).removeprefix(f"Error executing tool {name}: ")
            raise ToolError(text) from exc.__cause__

    async def read_resource(self, uri: Any, context: Any = None) -> Any:
        try:
            contents = await super().read_resource(uri, context)
        except ResourceNotFoundError as exc:
            if protocol_version(context) not in (None, *MODERN_PROTOCOL_VERSIONS):
                raise MCPError(code=LEGACY_RESOURCE_NOT_FOUND, message=str(exc), data={"uri": str(uri)}) from None
            raise
        except UnexpectedResourceError as exc:
            error = self.crash(f"resource {uri}", "resources/read", root_cause(exc))
            raise ResourceError(str(error)) from None
        if not str(uri).startswith("imagegen://images/") or not isinstance(contents, Iterable):
            return contents
        fixed = []
        for item in contents:
            assert isinstance(item, ReadResourceContents)
            mime = codec.sniff(item.content) if isinstance(item.content, bytes) else item.mime_type
            fixed.append(ReadResourceContents(content=item.content, mime_type=mime, meta=item.meta))
        return fixed

    def crash(self, what: str, name: str, exc: BaseException) -> ToolError:
        """A known cause in words; otherwise a clean internal error, the traceback logged (redacted)."""
        known = exc if isinstance(exc, ImagegenError) else translate(exc, paths=PATH_ARGS.get(name, "out"))
        if known is not None:
            log.info("%s failed: %s", what, redact(str(known), self.secrets))
            return ToolError(redact(str(known), self.secrets))
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("%s raised an unexpected %s:\n%s", what, type(exc).__name__, redact(trace, self.secrets))
        return ToolError(
            f"internal error in {name}: {type(exc).__name__}; the server log (stderr) has the details — "
            "call again; if it fails the same way, run preflight and report the server log"
        )


def without_links(result: Any) -> Any:
    """Each ``resource_link`` as a line of text naming its uri (and path), for hosts that cannot take links.

    langchain-mcp-adapters turns an image ``resource_link`` into an image block whose url is our
    ``imagegen://`` uri, which ChatOpenAI and ChatAnthropic send on and the APIs reject (docs/interop.md).
    The text keeps everything the link said; the preview image and structured content are unchanged.
    """
    if not isinstance(result, CallToolResult):
        return result
    content = [
        TextContent(type="text", text=f"{b.description or b.title or b.name}: {b.uri}")
        if isinstance(b, ResourceLink) else b
        for b in result.content
    ]  # fmt: skip
    return result.model_copy(update={"content": content})


def protocol_version(context: Any) -> str | None:
    """The client's protocol version, ``None`` outside a request (a direct in-process call)."""
    try:
        return str(context.request_context.protocol_version)
    except (AttributeError, ValueError):
        return None


def root_cause(exc: BaseException) -> BaseException:
    """The exception the SDK wrapped (it wraps nested crashes once more)."""
    while isinstance(exc, UnexpectedToolError | UnexpectedResourceError) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc
