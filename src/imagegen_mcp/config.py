"""Settings from the environment: read once at start-up, validated, every path absolute.

A host may start the server with ``/`` as its working directory and a minimal environment, so
nothing here depends on the current directory except an explicitly relative value, which is
resolved once, at start-up, and reported as the absolute path it became (``preflight`` shows it).

A bad value raises :class:`~imagegen_mcp.errors.ConfigError` naming the variable and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from imagegen_mcp.errors import ConfigError
from imagegen_mcp.providers.registry import (
    BASE_VARIABLES,
    BY_NAME,
    NAMES,
    OPTION_VARIABLES,
    SECRET_VARIABLES,
    is_configured,
)
from imagegen_mcp.storage.objects import StorageConfig, storage_config

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "google/gemini-3.1-flash-image-preview"
PROVIDERS = NAMES
# Keys an IMAGEGEN_CONFIG file may hold (keys stay in the environment: a config file gets shared).
CONFIG_KEYS = frozenset(
    {"provider", "model", "preferred", "blocked", "weights", "order", "cooldown_s", "providers", "defaults"}
)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved. Build it with :meth:`from_env`."""

    output_dir: Path
    queue_dir: Path
    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    # A provider name (pinned: no fallback) or "auto" (the router's chain).
    provider: str = "openrouter"
    model: str = DEFAULT_MODEL
    # Every other provider's variables (keys, base URLs), as read from the environment and IMAGEGEN_CONFIG.
    provider_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    preferred: tuple[str, ...] = ()
    blocked: frozenset[str] = frozenset()
    weights: Mapping[str, float] = field(default_factory=dict)
    provider_order: tuple[str, ...] = NAMES
    cooldown_s: float = 60.0
    max_workers: int = 2
    orphan_timeout_s: float = 1800.0
    # postgresql://… for the team shape (the queue in PostgreSQL); None: SQLite in queue_dir.
    queue_url: str | None = field(default=None, repr=False)
    mcp_token: str | None = field(default=None, repr=False)
    workspace: tuple[Path, ...] = ()
    # Host names clients use to reach an HTTP server bound to a non-loopback address.
    allowed_hosts: tuple[str, ...] = ()
    max_baseline_mb: float = 20.0
    # Generation is refused before any request when the output disk has less free space than this.
    min_free_mb: float = 64.0
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
    # The team shape's shared bucket (IMAGEGEN_STORAGE_URL=s3://…); None = files in the output directory.
    storage: StorageConfig | None = None
    # Caps checked against an estimate before any request (costs.py); None: no cap.
    max_cost_usd: float | None = None
    daily_budget_usd: float | None = None
    # Defaults a call's own argument overrides (defaults.py): IMAGEGEN_CONFIG, then remembered ones.
    default_style: str | None = None
    default_aspect_ratio: str | None = None
    default_image_size: str | None = None
    # Where each default came from: key -> "environment" | "IMAGEGEN_CONFIG" | "remembered (<file>)".
    default_sources: Mapping[str, str] = field(default_factory=dict)
    # IMAGEGEN_RESOURCE_LINKS=off: results carry file links as text (agent frameworks; docs/interop.md).
    resource_links: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        file = _config_file(env)
        chosen, sources = _defaults(env, file)
        output_dir = (
            _path(env, "IMAGEGEN_OUTPUT_DIR")
            or (Path(chosen["out_dir"]).expanduser() if "out_dir" in chosen else None)
            or default_output_dir(env)
        )
        queue_dir = _path(env, "IMAGEGEN_QUEUE_DIR") or output_dir / "imagegen-queue"
        provider_env = _provider_env(env, file)
        for variable in BASE_VARIABLES:
            _check_url(provider_env, variable)
        base_url = provider_env.get("OPENROUTER_BASE_URL", "").rstrip("/") or DEFAULT_BASE_URL
        order = _names(env, None, file, "order") or []
        order += [n for n in NAMES if n not in order]
        provider = (env.get("IMAGEGEN_PROVIDER", "").strip() or str(file.get("provider", ""))).lower()
        provider = provider or default_provider(provider_env)
        if provider != "auto" and provider not in NAMES:
            raise ConfigError(
                f"IMAGEGEN_PROVIDER={provider!r} is not a provider this server knows",
                f"set IMAGEGEN_PROVIDER to 'auto' or one of: {', '.join(NAMES)}",
            )
        return cls(
            output_dir=output_dir,
            queue_dir=queue_dir,
            api_key=provider_env.get("OPENROUTER_API_KEY") or None,
            base_url=base_url,
            provider=provider,
            model=chosen.get("model") or DEFAULT_MODEL,
            provider_env=MappingProxyType(provider_env),
            preferred=tuple(_names(env, "IMAGEGEN_PREFERRED", file, "preferred") or ()),
            blocked=frozenset(_names(env, "IMAGEGEN_BLOCKED", file, "blocked") or ()),
            weights=_weights(env, file),
            provider_order=tuple(order),
            cooldown_s=_number(
                _with_file(env, file, "IMAGEGEN_COOLDOWN_S", "cooldown_s"),
                "IMAGEGEN_COOLDOWN_S",
                60,
                minimum=0,
                maximum=86400,
            ),
            max_workers=int(_number(env, "IMAGEGEN_MAX_WORKERS", 2, minimum=1, maximum=64, integer=True)),
            orphan_timeout_s=_number(env, "IMAGEGEN_ORPHAN_TIMEOUT_S", 1800, minimum=5, maximum=7 * 86400),
            queue_url=_queue_url(env),
            mcp_token=env.get("IMAGEGEN_MCP_TOKEN", "").strip() or None,
            workspace=_path_list(env, "IMAGEGEN_WORKSPACE"),
            allowed_hosts=tuple(h.strip() for h in env.get("IMAGEGEN_ALLOWED_HOSTS", "").split(",") if h.strip()),
            max_baseline_mb=_number(env, "IMAGEGEN_MAX_BASELINE_MB", 20, minimum=0.01, maximum=1024),
            request_timeout_s=_number(env, "IMAGEGEN_TIMEOUT_S", 180, minimum=1, maximum=3600),
            min_free_mb=_number(env, "IMAGEGEN_MIN_FREE_MB", 64, minimum=0, maximum=1024 * 1024),
            storage=storage_config(env),
            max_cost_usd=_optional_number(env, "IMAGEGEN_MAX_COST_USD"),
            daily_budget_usd=_optional_number(env, "IMAGEGEN_DAILY_BUDGET_USD"),
            default_style=chosen.get("style"),
            default_aspect_ratio=chosen.get("aspect_ratio"),
            default_image_size=chosen.get("image_size"),
            default_sources=MappingProxyType(sources),
            resource_links=_on_off(env, "IMAGEGEN_RESOURCE_LINKS", True),
        )

    def provider_variables(self) -> Mapping[str, str]:
        """Every provider's variables, OpenRouter's two included (tests set those as fields)."""
        merged = dict(self.provider_env)
        if self.api_key:
            merged["OPENROUTER_API_KEY"] = self.api_key
        merged["OPENROUTER_BASE_URL"] = self.base_url
        return merged

    def check_dirs(self) -> None:
        """:class:`ConfigError` when the output or queue directory is (or lies under) a file.

        Called when the server starts (``serve`` exits 2 with the message): a server that starts
        with such a directory would bill every generation and then fail to save it.
        """
        from imagegen_mcp.storage.local import blocking_file

        for variable, directory in (("IMAGEGEN_OUTPUT_DIR", self.output_dir), ("IMAGEGEN_QUEUE_DIR", self.queue_dir)):
            blocker = blocking_file(directory)
            if blocker is not None:
                what = "is a file" if blocker == directory else f"is under {blocker}, which is a file"
                raise ConfigError(
                    f"{variable}={directory} {what}, not a directory",
                    f"set {variable} to a directory, or move the file {blocker} away",
                )

    @property
    def min_free_bytes(self) -> int:
        return int(self.min_free_mb * 1024 * 1024)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any output (see :func:`errors.redact`)."""
        keys = [self.provider_env.get(v, "") for v in SECRET_VARIABLES]
        stored = self.storage.secrets() if self.storage else ()
        db_password = urlsplit(self.queue_url).password if self.queue_url else None
        return tuple(s for s in (self.api_key, self.mcp_token, db_password, *keys, *stored) if s)


def default_provider(provider_env: Mapping[str, str]) -> str:
    """``openrouter`` (as in v1) unless another network provider is configured: then ``auto``."""
    others = [e for e in BY_NAME.values() if e.name != "openrouter" and not e.always]
    return "auto" if any(is_configured(e, provider_env) for e in others) else "openrouter"


def _config_file(env: Mapping[str, str]) -> dict[str, Any]:
    """The IMAGEGEN_CONFIG TOML file, checked key by key (unknown keys are refused, not ignored)."""
    raw = env.get("IMAGEGEN_CONFIG", "").strip()
    if not raw:
        return {}
    import tomllib

    path = Path(raw).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"IMAGEGEN_CONFIG={raw!r} cannot be read ({exc.strerror})",
                          "point IMAGEGEN_CONFIG at a readable TOML file, or unset it") from None  # fmt: skip
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"IMAGEGEN_CONFIG file {path} is not valid TOML ({exc})",
                          "fix the file (see the README's IMAGEGEN_CONFIG example)") from None  # fmt: skip
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"IMAGEGEN_CONFIG file {path} has unknown keys: {', '.join(unknown)}",
            f"use only {', '.join(sorted(CONFIG_KEYS))} (API keys stay in environment variables)",
        )
    return data


def _provider_env(env: Mapping[str, str], file: Mapping[str, Any]) -> dict[str, str]:
    """Provider keys and base URLs: the environment, then ``[providers.<name>] base_url`` from the file."""
    found: dict[str, str] = {}
    sections = file.get("providers", {})
    if not isinstance(sections, dict):
        raise ConfigError("IMAGEGEN_CONFIG: providers must be a table", "write [providers.openai] base_url = '…'")
    for name, section in sections.items():
        entry = BY_NAME.get(name)
        if entry is None or not isinstance(section, dict) or set(section) - {"base_url"}:
            raise ConfigError(
                f"IMAGEGEN_CONFIG: [providers.{name}] is not understood",
                f"use [providers.<name>] with base_url only; names: {', '.join(NAMES)}",
            )
        if entry.base_variable and isinstance(section.get("base_url"), str):
            found[entry.base_variable] = section["base_url"].strip()
    for variable in (*SECRET_VARIABLES, *BASE_VARIABLES, *OPTION_VARIABLES, "FAL_API_KEY"):
        value = env.get(variable, "").strip()
        if value:
            found[variable] = value
    return found


def _queue_url(env: Mapping[str, str]) -> str | None:
    """``IMAGEGEN_QUEUE_URL``: a PostgreSQL URL (the team shape), or unset for SQLite."""
    value = env.get("IMAGEGEN_QUEUE_URL", "").strip()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        ok = parts.scheme.lower() in ("postgresql", "postgres") and bool(parts.hostname or parts.query or parts.path)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        ok = False
    if not ok:
        shown = re.sub(r"://[^@/]*@", "://…@", value)  # never echo a password
        raise ConfigError(
            f"IMAGEGEN_QUEUE_URL={shown!r} is not a PostgreSQL URL",
            "set IMAGEGEN_QUEUE_URL=postgresql://user:password@host:5432/database, or unset it to use the "
            "SQLite queue in IMAGEGEN_QUEUE_DIR",
        )
    return value


def _check_url(provider_env: Mapping[str, str], variable: str) -> None:
    value = provider_env.get(variable, "")
    if value and not value.startswith(("https://", "http://")):
        raise ConfigError(
            f"{variable}={value!r} is not an http(s) URL",
            f"unset {variable}, or set it to an API root such as https://…/v1",
        )


def _names(env: Mapping[str, str], variable: str | None, file: Mapping[str, Any], key: str) -> list[str] | None:
    """Provider names from ``variable`` (comma-separated), else the file's ``key`` list; each name checked."""
    raw = env.get(variable, "").strip() if variable else ""
    names: Any = [n.strip().lower() for n in raw.split(",") if n.strip()] if raw else file.get(key)
    if names is None:
        return None
    where = variable if raw else f"IMAGEGEN_CONFIG {key}"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where} must be a list of provider names", f'e.g. {key} = ["openai", "openrouter"]')
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ConfigError(
            f"{where} names unknown providers: {', '.join(unknown)}", f"use provider names from: {', '.join(NAMES)}"
        )
    return names


def _weights(env: Mapping[str, str], file: Mapping[str, Any]) -> dict[str, float]:
    raw = env.get("IMAGEGEN_WEIGHTS", "").strip()
    items: list[tuple[str, Any]]
    if raw:
        items = []
        for part in raw.split(","):
            name, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(
                    f"IMAGEGEN_WEIGHTS={raw!r} is not name=weight pairs",
                    "e.g. IMAGEGEN_WEIGHTS=openai=0.7,openrouter=0.3",
                )
            items.append((name.strip().lower(), value.strip()))
        where = "IMAGEGEN_WEIGHTS"
    else:
        table = file.get("weights", {})
        if not isinstance(table, dict):
            raise ConfigError("IMAGEGEN_CONFIG weights must be a table", "write [weights] openai = 0.7")
        items, where = list(table.items()), "IMAGEGEN_CONFIG weights"
    weights: dict[str, float] = {}
    for name, value in items:
        try:
            weight = float(value)
        except (TypeError, ValueError):
            weight = -1.0
        if name not in NAMES or not 0 <= weight <= 1000:
            raise ConfigError(f"{where}: {name}={value!r} is not a known provider with a weight from 0 to 1000",
                              f"use provider names from {', '.join(NAMES)} with weights such as 0.7")  # fmt: skip
        weights[name] = weight
    return weights


def _with_file(env: Mapping[str, str], file: Mapping[str, Any], variable: str, key: str) -> Mapping[str, str]:
    """``env`` with ``variable`` taken from the file's ``key`` when the environment lacks it."""
    if env.get(variable, "").strip() or key not in file:
        return env
    return {**env, variable: str(file[key])}


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


def _defaults(env: Mapping[str, str], file: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """model, style, aspect_ratio, image_size, out_dir and where each came from.

    Environment (IMAGEGEN_MODEL, IMAGEGEN_OUTPUT_DIR) > IMAGEGEN_CONFIG (top-level ``model`` or a
    ``[defaults]`` table) > remembered defaults (``imagegen-mcp defaults set``); see defaults.py.
    """
    from imagegen_mcp import defaults

    table = file.get("defaults", {})
    if not isinstance(table, dict):
        raise ConfigError("IMAGEGEN_CONFIG: defaults must be a table", "write [defaults] then style = 'anime'")
    configured = {
        **({"model": str(file["model"])} if file.get("model") else {}),
        **{k: str(v) for k, v in table.items()},
    }
    for key, value in configured.items():
        try:
            defaults.validate(key, value)
        except ConfigError as exc:
            raise ConfigError(f"IMAGEGEN_CONFIG [defaults]: {exc.message}", exc.fix) from None
    remembered = defaults.load(env)
    chosen: dict[str, str] = {}
    sources: dict[str, str] = {}
    from_env = {"model": env.get("IMAGEGEN_MODEL", "").strip(), "out_dir": env.get("IMAGEGEN_OUTPUT_DIR", "").strip()}
    for key in defaults.KEYS:
        for candidate, where in (
            (from_env.get(key), "environment"),
            (configured.get(key), "IMAGEGEN_CONFIG"),
            (remembered.get(key), f"remembered ({defaults.path(env)})"),
        ):
            if candidate:
                chosen[key] = candidate
                sources[key] = where
                break
    return chosen, sources


def _on_off(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    raise ConfigError(f"{name}={raw!r} is not on or off", f"set {name}=on or {name}=off, or unset it")


def _optional_number(env: Mapping[str, str], name: str, maximum: float = 1_000_000) -> float | None:
    """A non-negative number, or None when the variable is unset or empty."""
    if not env.get(name, "").strip():
        return None
    return _number(env, name, 0, minimum=0, maximum=maximum)


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
