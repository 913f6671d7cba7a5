"""Settings from the environment: read once at start-up, validated, every path absolute.

A host may start the server with ``/`` as its working directory and a minimal environment, so
nothing here depends on the current directory except an explicitly relative value, which is
resolved once, at start-up, and reported as the absolute path it became (``preflight`` shows it).

A bad value raises :class:`~imagegen_mcp.errors.ConfigError` naming the variable and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from imagegen_mcp.errors import ConfigError

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "google/gemini-3.1-flash-image-preview"
PROVIDERS = ("openrouter", "placeholder")

ProviderName = Literal["openrouter", "placeholder"]


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved. Build it with :meth:`from_env`."""

    output_dir: Path
    queue_dir: Path
    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    provider: ProviderName = "openrouter"
    model: str = DEFAULT_MODEL
    max_workers: int = 2
    orphan_timeout_s: float = 1800.0
    mcp_token: str | None = field(default=None, repr=False)
    workspace: tuple[Path, ...] = ()
    # Host names clients use to reach an HTTP server bound to a non-loopback address.
    allowed_hosts: tuple[str, ...] = ()
    max_baseline_mb: float = 20.0
    # Seconds allowed for one provider request (the Image API's own examples take ~95 s).
    request_timeout_s: float = 180.0
    # How often a waiting generate_image sends a progress notification.
    progress_interval_s: float = 2.0
    # Inline retries of retryable provider failures: tries, first backoff, and total time allowed.
    # The budget stays well under the ~60 s after which hosts cancel a tool call.
    max_attempts: int = 3
    retry_backoff_s: float = 1.0
    retry_budget_s: float = 30.0
    # Attribution headers OpenRouter shows on its app pages.
    app_url: str = "https://github.com/imagegen-mcp/imagegen-mcp"
    app_title: str = "imagegen-mcp"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        output_dir = _path(env, "IMAGEGEN_OUTPUT_DIR") or default_output_dir(env)
        queue_dir = _path(env, "IMAGEGEN_QUEUE_DIR") or output_dir / "imagegen-queue"
        provider = env.get("IMAGEGEN_PROVIDER", "").strip().lower() or "openrouter"
        if provider not in PROVIDERS:
            raise ConfigError(
                f"IMAGEGEN_PROVIDER={provider!r} is not a provider this server knows",
                "set IMAGEGEN_PROVIDER to 'openrouter' or 'placeholder'",
            )
        base_url = env.get("OPENROUTER_BASE_URL", "").strip().rstrip("/") or DEFAULT_BASE_URL
        if not base_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"OPENROUTER_BASE_URL={base_url!r} is not an http(s) URL",
                f"unset OPENROUTER_BASE_URL, or set it to an API root such as {DEFAULT_BASE_URL}",
            )
        return cls(
            output_dir=output_dir,
            queue_dir=queue_dir,
            api_key=env.get("OPENROUTER_API_KEY", "").strip() or None,
            base_url=base_url,
            provider=provider,  # type: ignore[arg-type]  # checked against PROVIDERS above
            model=env.get("IMAGEGEN_MODEL", "").strip() or DEFAULT_MODEL,
            max_workers=int(_number(env, "IMAGEGEN_MAX_WORKERS", 2, minimum=1, maximum=64, integer=True)),
            orphan_timeout_s=_number(env, "IMAGEGEN_ORPHAN_TIMEOUT_S", 1800, minimum=5, maximum=7 * 86400),
            mcp_token=env.get("IMAGEGEN_MCP_TOKEN", "").strip() or None,
            workspace=_path_list(env, "IMAGEGEN_WORKSPACE"),
            allowed_hosts=tuple(h.strip() for h in env.get("IMAGEGEN_ALLOWED_HOSTS", "").split(",") if h.strip()),
            max_baseline_mb=_number(env, "IMAGEGEN_MAX_BASELINE_MB", 20, minimum=0.01, maximum=1024),
            request_timeout_s=_number(env, "IMAGEGEN_TIMEOUT_S", 180, minimum=1, maximum=3600),
        )

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any output (see :func:`errors.redact`)."""
        return tuple(s for s in (self.api_key, self.mcp_token) if s)


def default_output_dir(env: Mapping[str, str]) -> Path:
    """A per-user pictures folder plus ``imagegen``; never the working directory or a temp dir."""
    pictures = env.get("XDG_PICTURES_DIR", "").strip()
    if pictures and Path(pictures).expanduser().is_absolute():
        return Path(pictures).expanduser() / "imagegen"
    home = env.get("HOME") or env.get("USERPROFILE")
    base = Path(home) if home else Path.home()
    return (base / "Pictures" / "imagegen").absolute()


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if "\x00" in raw:
        raise ConfigError(f"{name} contains a NUL byte", f"set {name} to an absolute directory path")
    return Path(raw).expanduser().absolute()


def _path_list(env: Mapping[str, str], name: str) -> tuple[Path, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    return tuple(Path(p).expanduser().absolute() for p in raw.split(os.pathsep) if p.strip())


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    maximum: float,
    integer: bool = False,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    kind = "a whole number" if integer else "a number"
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not {kind}",
            f"set {name} to {kind} from {minimum:g} to {maximum:g}, or unset it for the default ({default:g})",
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigError(
            f"{name}={raw} is out of range",
            f"set {name} to {kind} from {minimum:g} to {maximum:g}, or unset it for the default ({default:g})",
        )
    return value
