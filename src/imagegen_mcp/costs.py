"""Cost before the call: an estimate per provider and model, and the caps that refuse before any request.

Where the price comes from, per provider (never a guess — no price means no estimate):

- ``openrouter`` — its catalogue: the Image API's per-image price, else ``/models`` pricing
  (:meth:`OpenRouterProvider.price_per_image`);
- ``openai`` — the per-image list prices in ``providers/data/openai_models.json`` (quality from
  ``image_size``, size from ``aspect_ratio``, as the provider would send them); ``compatible`` has none
  (a gateway's prices are its own);
- ``bfl`` / ``fal`` — their data files, through the provider's ``price_per_image`` (the endpoint and the
  exact width × height it would send: credits, or USD per started megapixel);
- everything else — ``providers/data/prices.json`` (the local and offline providers cost 0).

The estimate is per call (per image × ``n``). Caps: ``max_cost_usd`` (argument) and
``IMAGEGEN_MAX_COST_USD`` bound one call; ``IMAGEGEN_DAILY_BUDGET_USD`` bounds today's spend (UTC day,
recorded in the job store: :mod:`imagegen_mcp.queue.spend`) plus this estimate. In a fallback chain
each provider is checked; those over a cap (or without an estimate while a cap is set) are left out,
and when none is left the call is refused with what it would cost and how to get under the cap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from imagegen_mcp.errors import RequestError
from imagegen_mcp.providers.base import Provider, ProviderRequest


class BudgetError(RequestError):
    code = "over_budget"


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
    usd: float | None  # the whole call; None: no known price
    source: str

    def words(self) -> str:
        if self.usd is None:
            return f"no price known for {self.provider}/{self.model}"
        return f"${self.usd:.4f} with {self.provider}/{self.model}"


@cache
def price_table() -> dict[str, Any]:
    text = resources.files("imagegen_mcp.providers").joinpath("data/prices.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def estimate(provider: Provider, model: str, request: ProviderRequest) -> Estimate:
    """What this call would cost with ``provider`` and ``model`` (``usd`` None when unknown)."""
    name = provider.capabilities.name
    found = await _per_image(provider, name, model, request)
    if found is None:
        return Estimate(name, model, None, "no price known")
    usd, source = found
    return Estimate(name, model, round(usd * request.n, 6), source)


async def _per_image(provider: Any, name: str, model: str, request: ProviderRequest) -> tuple[float, str] | None:
    if name == "openrouter":
        tokens = int(price_table()["openrouter_tokens_per_image"]["value"])
        found: tuple[float, str] | None = await provider.price_per_image(model, tokens)
        return found
    if name == "openai" and getattr(provider, "prices_apply", False):
        spec = await provider.spec_for(model)
        quality = spec.quality.get(request.image_size or "") or None
        usd = spec.cost({}, quality=quality, size=spec.size_for(request.aspect_ratio), count=1)
        return (usd, "providers/data/openai_models.json") if usd is not None else None
    if name in ("bfl", "fal") and hasattr(provider, "price_per_image"):
        # The provider prices the request as it would send it (endpoint swaps, exact width × height).
        usd = provider.price_per_image(replace(request, model=model))
        return (usd, f"providers/data/{name}_models.json") if usd is not None else None
    table = price_table()["providers"].get(name, {})
    entry = table.get(model) or table.get("*")
    if entry is None:
        return None
    return float(entry["per_image"]), str(entry["source"])


@dataclass(frozen=True)
class Caps:
    """The limits one call is checked against (None: no limit)."""

    max_cost_usd: float | None = None  # the argument
    env_max_cost_usd: float | None = None  # IMAGEGEN_MAX_COST_USD
    daily_budget_usd: float | None = None  # IMAGEGEN_DAILY_BUDGET_USD
    spent_today_usd: float = 0.0

    @property
    def any(self) -> bool:
        return any(c is not None for c in (self.max_cost_usd, self.env_max_cost_usd, self.daily_budget_usd))


def over(estimate: Estimate, caps: Caps) -> BudgetError | None:
    """Why ``estimate`` breaks a cap (a refusal naming the cap and the fix), or None when it fits."""
    if not caps.any:
        return None
    if estimate.usd is None:
        return BudgetError(
            f"no price is known for {estimate.provider} model {estimate.model}, so the cost cap cannot be "
            "checked and nothing was sent",
            "choose a model with a known price (dry_run=true shows the estimate), or call without max_cost_usd "
            "and with IMAGEGEN_MAX_COST_USD / IMAGEGEN_DAILY_BUDGET_USD unset",
        )
    for limit, name in ((caps.max_cost_usd, "max_cost_usd"), (caps.env_max_cost_usd, "IMAGEGEN_MAX_COST_USD")):
        if limit is not None and estimate.usd > limit:
            return BudgetError(
                f"this call would cost about {estimate.words()}, over {name}=${limit:g}; nothing was sent",
                f"raise {name}, or lower n or image_size, or pick a cheaper model (dry_run=true shows the estimate)",
            )
    budget = caps.daily_budget_usd
    if budget is not None and caps.spent_today_usd + estimate.usd > budget:
        left = max(0.0, budget - caps.spent_today_usd)
        return BudgetError(
            f"today's spend ${caps.spent_today_usd:.4f} plus this call's {estimate.words()} would pass "
            f"IMAGEGEN_DAILY_BUDGET_USD=${budget:g} (${left:.4f} left today, UTC); nothing was sent",
            "wait for tomorrow (UTC), raise IMAGEGEN_DAILY_BUDGET_USD, or make a cheaper call (lower n or image_size)",
        )
    return None
