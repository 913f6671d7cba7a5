"""Wire plumbing shared by the keyed submit-then-poll JSON APIs (``bfl``, ``fal``).

Both send JSON with a key in one header, answer a submit with absolute URLs to poll, hand back
result URLs that expire, and report validation errors FastAPI-style (``{"detail": [{loc, msg,
type}]}`` or ``{"detail": "…"}``). What they share lives here, once:

- :class:`KeyedClient` — the key header on every call (never in a message: every text passes
  :func:`~imagegen_mcp.errors.redact`), JSON in and out through :func:`.http.send`.
- :meth:`KeyedClient.followed` — a URL the API handed back (BFL's ``polling_url``, fal's
  ``status_url``…) is followed only over ``https`` or on the configured origin (DESIGN: provider
  URLs); anything else is refused *without being fetched* (``url_refused``: the job may be billed,
  so no fallback).
- :meth:`KeyedClient.error` — one status → exception table (401/403 key, 402 credits, 404 model,
  408/409/429 rate limit with ``Retry-After``, 422 ``detail``, 5xx down), each provider adding its own
  cases in front of it.
- :meth:`KeyedClient.fetch` — a result URL downloaded at once with the one downloader; a failure
  there keeps the cost of the (billed) job on the error, so ``cost_usd`` still counts it.
- :func:`raw_base64` — an input data URL as the bare base64 BFL takes (fal takes data URIs as they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from imagegen_mcp import errors as e
from imagegen_mcp.imaging.download import _shown, allowed, download, input_bytes
from imagegen_mcp.providers.base import ProviderImage, origin_of
from imagegen_mcp.providers.http import Endpoint, SharedClient, json_of, send


@dataclass(frozen=True)
class Who:
    """Who is being called, for messages and fixes."""

    name: str  # the provider name: "bfl"
    label: str  # "Black Forest Labs"
    key_variable: str  # BFL_API_KEY
    base_variable: str  # BFL_BASE_URL
    key_hint: str = "…"


@dataclass
class Answer:
    """One JSON answer: status, parsed body (None when not JSON), headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


class KeyedClient:
    """JSON over the shared HTTP client with the key in ``header``; URLs checked; errors translated."""

    def __init__(
        self, http: SharedClient, who: Who, *, key: str | None, base_url: str, header: str, scheme: str = ""
    ) -> None:
        self.http, self.who, self.key = http, who, key
        self.base = base_url.rstrip("/")
        self._header, self._scheme = header, scheme
        self._endpoint = Endpoint(who.label, self.base, who.base_variable)

    @property
    def origin(self) -> str:
        return origin_of(self.base)

    def headers(self) -> dict[str, str]:
        return {self._header: f"{self._scheme}{self.key}"} if self.key else {}

    async def call(self, method: str, url: str, body: Any = None) -> Answer:
        kw: dict[str, Any] = {"headers": self.headers()}
        if body is not None:
            kw["json"] = body
        reply = await send(self.http, self._endpoint, method, url, **kw)
        headers = dict(reply.headers)
        return Answer(reply.status_code, json_of(reply), headers)

    def followed(self, url: Any, what: str) -> str:
        """``url`` (absolute, or relative to the base) if it may be followed; else ``url_refused``."""
        if not isinstance(url, str) or not url:
            raise e.InvalidResponseError(
                f"{self.who.label} answered without a {what}", "retry; if it persists, report it"
            )
        absolute = urljoin(self.base + "/", url)
        if not allowed(absolute, self.base):
            raise e.InvalidResponseError(
                f"{self.who.label} handed back a {what} this server will not follow ({_shown(absolute)}): only "
                f"https, or the configured origin of {self.who.base_variable}; it was not fetched",
                f"check {self.who.base_variable}; a gateway that answers with plain-http URLs on another host "
                "cannot be used",
                code="url_refused",
            )
        return absolute

    async def fetch(self, url: str, *, cost_usd: float | None, generation_id: str | None) -> ProviderImage:
        """Download a result image at once; an error keeps the billed job's cost and id."""
        try:
            return await download(self.http, url, provider=self.who.name, provider_origin=self.base)
        except e.ProviderError as exc:
            exc.cost_usd, exc.generation_id = cost_usd, generation_id
            raise

    async def input_bytes(self, ref: str) -> bytes:
        """An input image's bytes (data URL decoded; https fetched first), for APIs that take base64."""
        try:
            return (await input_bytes(self.http, ref, provider=self.who.name)).data
        except e.ProviderError as exc:
            raise e.BadRequestError(
                f"an input image could not be fetched before the request ({exc.message}); nothing was sent",
                "pass a reachable https URL, a local file, or an imagegen:// uri",
            ) from None

    def require_key(self) -> None:
        if not self.key:
            raise e.AuthError(
                f"{self.who.key_variable} is not set",
                f"export {self.who.key_variable}={self.who.key_hint}, or call with provider='placeholder'",
            )

    def redacted(self, text: str) -> str:
        return e.redact(text, (self.key,) if self.key else ())

    def error(self, answer: Answer, *, model: str, job: str | None = None) -> e.ProviderError:
        """The common status table; providers handle their own cases before calling it."""
        status = answer.status
        text = self.redacted(detail_text(answer.body) or f"HTTP {status}")
        detail = f"{self.who.label} {status}: {text[:400]}"
        kw: dict[str, Any] = {"status": status, "generation_id": job}
        if status in (401, 403):
            return e.AuthError(
                f"{detail} — the key was refused (or may not use {model})",
                f"check {self.who.key_variable} (export {self.who.key_variable}={self.who.key_hint}), "
                "or call with provider='placeholder'",
                **kw,
            )
        if status == 402:
            return e.CreditsError(
                f"{detail} — the account has no credits left (nothing was generated)",
                f"add credits to the account behind {self.who.key_variable}, then retry",
                **kw,
            )
        if status == 404:
            return e.ModelNotFoundError(
                f"{detail} — {model!r} is not an endpoint {self.who.label} serves at {self.base}",
                f"pass another model (run preflight to list them), or check {self.who.base_variable}",
                **kw,
            )
        if status in (408, 409, 429):
            wait = retry_after(answer.headers)
            return e.RateLimitError(
                f"{detail} — rate limited (too many requests or active tasks)",
                f"retry{f' after {wait:.0f} s' if wait is not None else ' in a minute'}, or use enqueue_images",
                retry_after=wait,
                **kw,
            )
        if status in (400, 413, 422):
            return e.BadRequestError(f"{detail} — the request was refused", "fix the named argument and retry", **kw)
        if status >= 500:
            return e.ProviderDownError(f"{detail} — the service failed", "retry in a moment", **kw)
        return e.InvalidResponseError(f"{detail} — unexpected answer", "retry; if it persists, report it", **kw)

    def not_json(self, what: str, *, job: str | None = None) -> e.InvalidResponseError:
        return e.InvalidResponseError(
            f"{self.who.label} answered {what} with something that is not JSON (an HTML page or a cut-off body)",
            f"retry; if it persists, check {self.who.base_variable}",
            generation_id=job,
        )


def detail_text(body: Any) -> str:
    """FastAPI's ``detail`` (a list of ``{loc, msg, type}`` or a string), or ``message``/``error``."""
    if not isinstance(body, Mapping):
        return ""
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = [str(p) for p in item.get("loc") or () if p != "body"]
                where = ".".join(loc)
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
        return "; ".join(p for p in parts if p)
    for key in ("detail", "message", "error"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return ""


def detail_types(body: Any) -> set[str]:
    """The ``type`` of every ``detail`` item (fal's ``content_policy_violation``)."""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if not isinstance(detail, list):
        return set()
    return {str(item.get("type")) for item in detail if isinstance(item, Mapping) and item.get("type")}


def retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (a number; dates are rare on these APIs and read as unknown)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raw_base64(ref: str) -> str | None:
    """The base64 payload of a data URL (BFL takes bare base64); None for an https URL."""
    if ref.startswith("data:") and "," in ref:
        return ref.split(",", 1)[1]
    return None


def dimensions(
    aspect_ratio: str | None, long_edge: int, step: int, *, max_pixels: int | None = None
) -> tuple[int, int]:
    """Width and height for ``aspect_ratio`` (``"16:9"``; None = square) with the long edge ``long_edge``,
    each a multiple of ``step``, scaled down to ``max_pixels`` when given."""
    w_part, h_part = (float(p) for p in (aspect_ratio or "1:1").split(":"))
    ratio = w_part / h_part
    width, height = (long_edge, long_edge / ratio) if ratio >= 1 else (long_edge * ratio, long_edge)
    if max_pixels is not None and width * height > max_pixels:
        shrink = (max_pixels / (width * height)) ** 0.5
        width, height = width * shrink, height * shrink
    return max(step, int(width // step) * step), max(step, int(height // step) * step)
