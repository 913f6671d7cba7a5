"""Every provider this server knows, in configuration order, and how each is configured.

Nothing here imports a provider module: the table says which variables configure a provider, so
"is it configured?" costs nothing, and a provider's module is imported the first time the router or
preflight needs the provider itself (start-up imports nothing ``tools/list`` does not need).
Adding a provider is one row here plus its module.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imagegen_mcp.config import Settings
    from imagegen_mcp.providers.base import Provider
    from imagegen_mcp.providers.http import SharedClient


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:Class"; the class has ``from_settings(settings, http)``
    key_variables: tuple[str, ...] = ()  # any one of them configures the provider
    base_variable: str | None = None
    default_base_url: str | None = None
    needs_base_url: bool = False  # configured only when the base URL is set too (gateways, local servers)
    always: bool = False  # local/offline providers: always configured
    # Optional variables read into ``Settings.provider_env`` beside the key and base URL; the secret
    # ones are redacted like keys (``STABLE_DIFFUSION_LOCAL_AUTH``). Neither configures the provider.
    secret_variables: tuple[str, ...] = ()
    option_variables: tuple[str, ...] = ()

    def missing(self) -> str:
        """What configures it, for messages: ``OPENAI_API_KEY``, ``COMFYUI_BASE_URL``…"""
        needs = [" or ".join(self.key_variables)] if self.key_variables else []
        if self.base_variable and (self.needs_base_url or not self.key_variables):
            needs.append(self.base_variable)
        return " and ".join(needs)


ENTRIES: tuple[Entry, ...] = (
    Entry("openrouter", "openrouter:OpenRouterProvider", ("OPENROUTER_API_KEY",), "OPENROUTER_BASE_URL",
          "https://openrouter.ai/api/v1"),
    Entry("openai", "openai:OpenAIProvider", ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    Entry("compatible", "compatible:CompatibleProvider", ("IMAGE_API_KEY",), "IMAGE_BASE_URL", None,
          needs_base_url=True),
    Entry("bfl", "bfl:BFLProvider", ("BFL_API_KEY",), "BFL_BASE_URL", "https://api.bfl.ai"),
    Entry("fal", "fal:FalProvider", ("FAL_KEY", "FAL_API_KEY"), "FAL_QUEUE_URL", "https://queue.fal.run"),
    Entry("a1111", "a1111:A1111Provider", (), "STABLE_DIFFUSION_LOCAL_BASE_URL", None, needs_base_url=True,
          secret_variables=("STABLE_DIFFUSION_LOCAL_AUTH",)),
    Entry("local", "local:LocalProvider", always=True),
    Entry("placeholder", "placeholder:PlaceholderProvider", always=True),
)  # fmt: skip
BY_NAME = {entry.name: entry for entry in ENTRIES}
NAMES = tuple(entry.name for entry in ENTRIES)
SECRET_VARIABLES = tuple(v for entry in ENTRIES for v in (*entry.key_variables, *entry.secret_variables))
OPTION_VARIABLES = tuple(v for entry in ENTRIES for v in entry.option_variables)
BASE_VARIABLES = tuple(entry.base_variable for entry in ENTRIES if entry.base_variable)


def is_configured(entry: Entry, env: Mapping[str, str]) -> bool:
    if entry.always:
        return True
    has_key = any(env.get(v, "").strip() for v in entry.key_variables) or not entry.key_variables
    has_base = bool(entry.base_variable and env.get(entry.base_variable, "").strip())
    return has_key and (has_base or not entry.needs_base_url)


class Providers(Mapping[str, "Provider"]):
    """The providers of one process, each built on first use and closed with the services."""

    def __init__(self, settings: Settings, http: SharedClient, order: tuple[str, ...] = NAMES) -> None:
        self._settings = settings
        self._http = http
        self._order = order
        self._built: dict[str, Provider] = {}

    def configured(self, name: str) -> bool:
        return is_configured(BY_NAME[name], self._settings.provider_variables())

    def __getitem__(self, name: str) -> Provider:
        if name not in self._built:
            self._built[name] = self.provider_class(name).from_settings(self._settings, self._http)
        return self._built[name]

    @staticmethod
    def provider_class(name: str) -> Any:
        """The provider's class, its module imported (thread-safe: the warm-up imports ahead of use)."""
        entry = BY_NAME[name]  # KeyError for an unknown name, as a Mapping should
        module, cls = entry.target.split(":")
        return getattr(importlib.import_module(f"imagegen_mcp.providers.{module}"), cls)

    def add(self, name: str, provider: Provider) -> None:
        """Use an already-built provider under ``name`` (tests, embedding)."""
        self._built[name] = provider

    def __contains__(self, name: object) -> bool:  # Mapping's default would build the provider
        return name in self._order

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def built(self) -> list[Provider]:
        return list(self._built.values())
