"""HTTP plumbing every network provider shares: one client, one send, one retry policy.

- :class:`SharedClient` — the process's one ``httpx2.AsyncClient`` (DESIGN decision 1), created on
  first use, not at start-up: a TLS context costs ~50 ms of cold start, and a host starts this
  server on every launch whether or not it generates anything.
- :func:`send` — one request, its body read into a buffer we own (:class:`Reply`); timeouts and
  transport failures become :class:`~imagegen_mcp.errors.ProviderTimeoutError` /
  :class:`~imagegen_mcp.errors.ConnectionFailedError` naming the provider and its variable. A body
  cut off after the headers arrived keeps the generation id from those headers: that attempt may
  have been billed, and the ledger must say so.
- :func:`retrying` — inline retries of :class:`~imagegen_mcp.errors.RetryableError` only, with
  ``tenacity``: at most ``max_attempts`` tries, jittered exponential backoff that honours
  ``Retry-After``, and a total budget; a wait that would overrun the budget is not slept, the
  error is raised at once with its ``retry_after`` so the caller (or the queue) can schedule it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx2

from imagegen_mcp import errors as e

if TYPE_CHECKING:
    from imagegen_mcp.providers.base import Call, ProviderResult

T = TypeVar("T")


class SharedClient:
    """The process's HTTP client, built on first use and closed with the services."""

    def __init__(self, timeout_s: float = 180.0, client: httpx2.AsyncClient | None = None) -> None:
        self._timeout_s = timeout_s
        self._client = client
        self._owned = client is None

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            timeout = httpx2.Timeout(connect=15.0, read=self._timeout_s, write=60.0, pool=30.0)
            limits = httpx2.Limits(max_connections=64, max_keepalive_connections=16)
            self._client = httpx2.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._owned and self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass
class Reply:
    """An HTTP answer read into one buffer that :func:`json_of` consumes.

    An image response is ~10 MB of base64 JSON, the largest thing this server holds; reading it into
    a buffer we own lets the parse free the raw bytes before it allocates the parsed objects, so at
    most two copies exist at once instead of three (bytes, text, objects).
    """

    status_code: int
    headers: httpx2.Headers
    body: bytearray


@dataclass(frozen=True)
class Endpoint:
    """Who is being called, for messages and fixes: ``OpenAI``, ``OPENAI_BASE_URL``, its base URL."""

    label: str
    base_url: str
    base_variable: str
    id_header: str | None = None  # a header carrying the generation id (kept when the body is cut off)


async def send(http: SharedClient, endpoint: Endpoint, method: str, url: str, **kw: Any) -> Reply:
    """One request; the whole body read; foreign errors translated here and nowhere else."""
    generation_id: str | None = None
    try:
        async with http.client.stream(method, url, **kw) as response:
            if endpoint.id_header:
                generation_id = response.headers.get(endpoint.id_header)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
            return Reply(response.status_code, response.headers, body)
    except httpx2.TimeoutException as exc:
        raise e.ProviderTimeoutError(
            f"no answer from {endpoint.label} within the time limit ({exc.__class__.__name__})",
            "retry, raise IMAGEGEN_TIMEOUT_S, or use enqueue_images for slow models",
            generation_id=generation_id,
        ) from None
    except httpx2.TransportError as exc:
        cut = " (the answer was cut off after it started)" if generation_id else ""
        raise e.ConnectionFailedError(
            f"could not reach {endpoint.label} at {endpoint.base_url} ({exc.__class__.__name__}){cut}",
            f"check the network and {endpoint.base_variable}, then retry",
            generation_id=generation_id,
        ) from None


def json_of(reply: Reply) -> Any:
    """The body as JSON (None if it is not JSON); the raw bytes are released either way."""
    try:
        text = reply.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    finally:
        reply.body.clear()
    try:
        return json.loads(text)
    except ValueError:
        return None


async def retrying(attempt: Callable[[], Awaitable[T]], *, max_attempts: int, budget_s: float, backoff_s: float) -> T:
    """Run ``attempt`` until it succeeds or a non-retryable error, the attempt cap or the budget stops it."""
    from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_before_delay

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after) + random.uniform(0, 0.1 * backoff_s)
        return float(min(30.0, backoff_s * 2 ** (state.attempt_number - 1)) * random.uniform(0.5, 1.5))

    retryer = AsyncRetrying(
        retry=retry_if_exception_type(e.RetryableError),
        stop=stop_after_attempt(max_attempts) | stop_before_delay(budget_s),
        wait=wait,
        sleep=anyio.sleep,
        reraise=True,
    )
    result: T = await retryer(attempt)
    return result


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


async def recorded_retries(
    call: Call,
    provider: str,
    model: str,
    attempt: Callable[[], Awaitable[ProviderResult]],
    *,
    max_attempts: int,
    budget_s: float,
    backoff_s: float,
) -> ProviderResult:
    """:func:`retrying`, each try one entry of the call's ledger (with its cost when the answer said)."""

    async def one() -> ProviderResult:
        with call.attempt(provider, model) as record:
            result = await attempt()
            record.succeeded(result.cost_usd, result.generation_id)
            return result

    return await retrying(one, max_attempts=max_attempts, budget_s=budget_s, backoff_s=backoff_s)
