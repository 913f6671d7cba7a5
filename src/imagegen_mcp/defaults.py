"""Remembered defaults: ``imagegen-mcp defaults set model=… style=… aspect_ratio=… out_dir=…``.

The generic image skill's "session memory", done openly: a small TOML file the user writes with the
CLI and can read, in the per-user config directory (``$XDG_CONFIG_HOME/imagegen-mcp/defaults.toml``,
else ``~/.config/imagegen-mcp/defaults.toml``; ``%APPDATA%\\imagegen-mcp\\defaults.toml`` on Windows).
Nothing is learnt behind the user's back (the provider health of the router is the learnt part).

The same keys may stand in an ``IMAGEGEN_CONFIG`` file, top level or under ``[defaults]``.
Precedence, first wins: **the call's argument > the environment (IMAGEGEN_MODEL, IMAGEGEN_OUTPUT_DIR)
> IMAGEGEN_CONFIG > remembered defaults > built-in defaults** — the more deliberate and the more local
to this run, the stronger. ``defaults show`` and preflight say where each value comes from.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from imagegen_mcp.errors import ConfigError

KEYS = ("model", "style", "aspect_ratio", "image_size", "out_dir")
FILENAME = "defaults.toml"


def path(env: Mapping[str, str]) -> Path:
    """Where remembered defaults live for this user."""
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "imagegen-mcp" / FILENAME
    appdata = env.get("APPDATA", "").strip()
    if appdata:
        return Path(appdata) / "imagegen-mcp" / FILENAME
    home = env.get("HOME") or env.get("USERPROFILE")
    return (Path(home) if home else Path.home()) / ".config" / "imagegen-mcp" / FILENAME


def load(env: Mapping[str, str]) -> dict[str, str]:
    """The remembered defaults ({} when none); a damaged file is a configuration error with the fix."""
    file = path(env)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"remembered defaults {file} cannot be read ({exc.strerror})",
                          f"fix the file's permissions, or delete {file}") from None  # fmt: skip
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"remembered defaults {file} are not valid TOML ({exc})",
                          f"run imagegen-mcp defaults set KEY=VALUE again, or delete {file}") from None  # fmt: skip
    return {k: str(v) for k, v in data.items() if k in KEYS and str(v)}


def validate(key: str, value: str) -> str:
    """``value`` checked for ``key``, with the fix naming what is allowed."""
    from typing import get_args

    from imagegen_mcp.models import AspectRatio, ImageSize
    from imagegen_mcp.surface.styles import StyleName

    allowed: dict[str, tuple[str, ...]] = {
        "style": get_args(StyleName), "aspect_ratio": get_args(AspectRatio), "image_size": get_args(ImageSize),
    }  # fmt: skip
    if key not in KEYS:
        raise ConfigError(f"{key!r} is not a default this server remembers", f"use one of: {', '.join(KEYS)}")
    if key in allowed and value not in allowed[key]:
        raise ConfigError(f"{key}={value!r} is not allowed", f"use one of: {', '.join(allowed[key])}")
    if key == "model" and not 3 <= len(value) <= 200:
        raise ConfigError(f"model={value!r} is not a model id", "give a model id such as google/gemini-2.5-flash-image")
    if key == "out_dir" and not Path(value).expanduser().is_absolute():
        raise ConfigError(
            f"out_dir={value!r} is not an absolute path", "give an absolute directory, e.g. ~/Pictures/ai"
        )
    return value


def save(env: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """Merge ``changes`` into the file (an empty value forgets that key); the new defaults."""
    current = load(env)
    for key, value in changes.items():
        if value:
            current[key] = validate(key, value)
        else:
            validate(key, "x") if key not in KEYS else None
            current.pop(key, None)
    file = path(env)
    file.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# imagegen-mcp remembered defaults (imagegen-mcp defaults set KEY=VALUE; KEY= forgets one)"]
    lines += [f"{k} = {_toml_string(current[k])}" for k in KEYS if k in current]
    tmp = file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(file)
    return current


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
