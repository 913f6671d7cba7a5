"""The one downloader for image URLs a provider hands back (they expire: fetched at once).

Rails (DESIGN: provider URLs): a URL is followed only over ``https``, or when it shares the
provider's configured origin (scheme, host, port; ``localhost``, ``127.0.0.1`` and ``[::1]`` count as
one host — that is how local servers and emulators are reached). Redirects are followed by hand, a
few hops at most, each hop checked by the same rule. The body is capped while it streams and the
bytes are sniffed: what is saved is an image, whatever the server's ``Content-Type`` claimed.

A URL that answers 403/404/410 has expired (signed result URLs live 10–60 minutes): that is a
:class:`~imagegen_mcp.errors.ResultExpiredError`, and the generation was billed all the same.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from imagegen_mcp import errors as e
from imagegen_mcp.imaging.codec import sniff
from imagegen_mcp.providers.base import ProviderImage, origin_of
from imagegen_mcp.providers.http import SharedClient

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 3


def allowed(url: str, provider_origin: str | None) -> bool:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https":
        return True
    return provider_origin is not None and scheme == "http" and origin_of(url) == origin_of(provider_origin)


async def download(
    http: SharedClient, url: str, *, provider: str, provider_origin: str | None, max_bytes: int = MAX_DOWNLOAD_BYTES
) -> ProviderImage:
    """Fetch one result image under the rails above; errors name the provider and say what to do."""
    import httpx2

    for _hop in range(MAX_REDIRECTS + 1):
        if not allowed(url, provider_origin):
            raise e.InvalidResponseError(
                f"{provider} returned an image URL this server will not follow ({_shown(url)}): only https, "
                "or the provider's own configured origin",
                "check the provider's base URL variable; if a gateway serves images over plain http from "
                "another host, it cannot be used",
                code="url_refused",
            )
        try:
            async with http.client.stream("GET", url) as response:
                if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code in (403, 404, 410):
                    raise e.ResultExpiredError(
                        f"{provider}'s result URL answered {response.status_code}: it has expired or is gone "
                        f"({_shown(url)}); the generation was billed",
                        "generate again (result URLs live minutes; this server downloads them at once, so this "
                        "usually means the provider's storage failed)",
                    )
                if response.status_code != 200:
                    raise e.ProviderDownError(
                        f"{provider}'s result URL answered {response.status_code} ({_shown(url)})",
                        "retry in a moment",
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(provider, int(declared), max_bytes)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise _too_large(provider, len(body), max_bytes)
        except httpx2.TimeoutException:
            raise e.ProviderTimeoutError(
                f"downloading {provider}'s result image timed out ({_shown(url)})", "retry in a moment"
            ) from None
        except httpx2.TransportError as exc:
            raise e.ConnectionFailedError(
                f"could not download {provider}'s result image ({_shown(url)}: {exc.__class__.__name__})",
                "check the network, then retry",
            ) from None
        data = bytes(body)
        return ProviderImage(data, sniff(data))
    raise e.InvalidResponseError(
        f"{provider}'s result URL redirected more than {MAX_REDIRECTS} times", "retry; if it persists, report it"
    )


async def input_bytes(http: SharedClient, ref: str, *, provider: str) -> ProviderImage:
    """An input image of a request (``ProviderRequest.input_images``, ``mask``, ``style_image``) as bytes.

    For providers whose API takes files (multipart uploads) rather than URLs: a data URL is decoded
    here; an ``https`` URL the user gave is fetched under the same rails as result URLs (https only).
    """
    from imagegen_mcp.imaging.codec import decode_base64_image

    if ref.startswith("data:"):
        data = decode_base64_image(ref)
        return ProviderImage(data, sniff(data))
    return await download(http, ref, provider=provider, provider_origin=None)


def _too_large(provider: str, size: int, cap: int) -> e.ImageError:
    return e.ImageError(
        f"{provider}'s result image is {size / 1048576:.1f} MiB, over the {cap / 1048576:.0f} MiB download cap",
        "ask for a smaller image_size or another output_format",
        code="image_too_large",
    )


def _shown(url: str) -> str:
    """The URL without its query (signed URLs carry credentials there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
