"""The router: which providers may take a request, in what order, and when to move on to the next.

The chain for one request (DESIGN: Routing):

1. ``provider`` pinned (the argument, or ``IMAGEGEN_PROVIDER=<name>``): that provider alone — no
   fallback, no cool-down skip. If it cannot honour an argument the request sets, the request is
   refused before anything is sent.
2. Otherwise (``auto``): every *configured* provider that supports the operation and honours every
   argument the request sets; with ``model`` given, only providers that know that model id.
   ``local`` and ``placeholder`` join only when named in ``preferred``. Blocked ones are removed;
   preferred ones come first, in their order; the rest are ordered by a weighted-random first pick
   (``weights``), then by configuration order. Providers cooling down are skipped (used last, only
   when nothing else is left).

Fallback moves to the next provider on rate limits (after the provider's own retries), 5xx,
timeouts, network errors, missing credits (402), a rejected key and unavailable models — never on
a moderation/safety refusal, a request the user must fix, or cancellation: a refusal must not be
laundered through a second provider. Every attempt is in the :class:`~imagegen_mcp.providers.base.Call`
ledger, so the result lists them and ``cost_usd`` adds up every billed one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from imagegen_mcp import errors as e
from imagegen_mcp.imaging.download import download
from imagegen_mcp.providers.base import Call, Provider, ProviderRequest, ProviderResult
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.registry import BY_NAME, Providers
from imagegen_mcp.queue.health import Health

# Providers that never join an ``auto`` chain unasked: nobody should get a placeholder, or a
# resampled "upscale", in place of the real thing without asking for it.
OPT_IN_ONLY = frozenset({"local", "placeholder"})

FALLBACK_ERRORS: tuple[type[e.ProviderError], ...] = (
    e.RetryableError,  # rate limits after retries, 5xx, timeouts, network errors
    e.CreditsError,
    e.AuthError,  # a revoked key makes that provider unusable; nothing about the request changes
    e.ModelNotFoundError,
    e.InvalidResponseError,  # a gateway's HTML page or a cut-off body: that provider is misbehaving
)


def falls_back(exc: BaseException) -> bool:
    """Whether the next provider may be tried after ``exc`` (never after a refusal or a bad request)."""
    if isinstance(exc, e.ModerationError | e.NoImageError | e.BadRequestError | e.ForbiddenError):
        return False
    if getattr(exc, "code", "") == "url_refused":
        return False  # a result we refused to fetch was billed: another provider would bill again
    return isinstance(exc, FALLBACK_ERRORS)


@dataclass(frozen=True)
class Preferences:
    """``provider_preferences`` and the configured ``IMAGEGEN_PREFERRED`` / ``BLOCKED`` / ``WEIGHTS``."""

    preferred: tuple[str, ...] = ()
    blocked: frozenset[str] = frozenset()
    weights: Mapping[str, float] = field(default_factory=dict)

    def merged(self, request: Preferences | None) -> Preferences:
        """The request's preferences over these; where they disagree, the request wins."""
        if request is None:
            return self
        preferred = request.preferred + tuple(p for p in self.preferred if p not in request.preferred)
        blocked = (self.blocked - set(request.preferred)) | request.blocked
        preferred = tuple(p for p in preferred if p not in blocked)
        return Preferences(preferred, frozenset(blocked), {**self.weights, **request.weights})


@dataclass(frozen=True)
class Chain:
    """The providers one request will try, in order, each with the model it will be asked for."""

    links: list[tuple[Provider, str]]
    pinned: bool  # one provider, no fallback

    def describe(self) -> list[str]:
        return [f"{p.capabilities.name}:{m}" for p, m in self.links]


class Router:
    """Builds chains and runs a request along one. One per process (it lives in ``Services``)."""

    def __init__(
        self,
        providers: Providers,
        http: SharedClient,
        *,
        order: Sequence[str],
        default: str,
        preferences: Preferences,
        health: Health,
        rng: random.Random | None = None,
    ) -> None:
        self.providers = providers
        self.http = http
        self.order = [name for name in order if name in providers]
        self.default = default  # "auto" or a provider name
        self.preferences = preferences
        self.health = health
        self._rng = rng or random.Random()

    # ------------------------------------------------------------------ chain

    async def chain(
        self,
        request: ProviderRequest,
        *,
        pinned: str | None = None,
        model: str | None = None,
        preferences: Preferences | None = None,
    ) -> Chain:
        """The providers to try, each with the model it will be asked for. Raises when none can take it."""
        pin = pinned or (None if self.default == "auto" else self.default)
        if pin is not None:
            return Chain([await self._pinned(pin, request, model, by_argument=pinned is not None)], pinned=True)
        prefs = self.preferences.merged(preferences)
        arguments = request.arguments()
        candidates: list[tuple[Provider, str]] = []
        reasons: dict[str, str] = {}
        for name in self.order:
            # Cheap refusals first: an unconfigured provider's module is never imported.
            if name in prefs.blocked:
                reasons[name] = "blocked"
                continue
            if name in OPT_IN_ONLY and name not in prefs.preferred:
                reasons[name] = "only used when named in preferred or pinned with provider"
                continue
            if not self.providers.configured(name):
                reasons[name] = "not configured"
                continue
            provider = self.providers[name]
            caps = provider.capabilities
            if not caps.supports(request.operation):
                reasons[name] = f"does not do {request.operation}"
            elif missing := caps.unhonoured(request.operation, arguments):
                reasons[name] = f"cannot honour {', '.join(sorted(missing))}"
            elif model is not None and not await provider.knows_model(model):
                reasons[name] = f"does not serve model {model}"
            else:
                candidates.append((provider, model or _default_model(provider, request)))
        if not candidates:
            raise _no_provider(request, model, reasons)
        ordered = self._order(candidates, prefs)
        cooling = [c for c in ordered if self.health.cooling_down(c[0].capabilities.name)]
        return Chain([c for c in ordered if c not in cooling] + cooling, pinned=False)

    async def _pinned(
        self, name: str, request: ProviderRequest, model: str | None, *, by_argument: bool
    ) -> tuple[Provider, str]:
        where = "provider" if by_argument else "IMAGEGEN_PROVIDER"
        if name not in self.order:
            raise e.RequestError(
                f"{where}={name!r} is not a provider this server knows",
                f"use one of: {', '.join(self.order)} (or leave {where} unset for automatic routing)",
            )
        if not self.providers.configured(name):
            entry = BY_NAME[name]  # a local server (a1111, comfyui) is configured by its base URL alone
            first = entry.key_variables[0] if entry.key_variables else entry.base_variable
            raise e.AuthError(
                f"{entry.missing()} is not set, so {name} cannot be used (nothing was sent)",
                f"export {first}=… (then restart the server), or call with provider='placeholder'",
            )
        provider = self.providers[name]
        caps = provider.capabilities
        if not caps.supports(request.operation):
            able = [n for n in self.order if self.providers[n].capabilities.supports(request.operation)]
            raise e.RequestError(
                f"{name} cannot do {request.operation}",
                f"pin one that can ({', '.join(able) or 'none is configured'}), or leave {where} unset",
            )
        missing = caps.unhonoured(request.operation, request.arguments())
        if missing:
            raise e.RequestError(
                f"{name} cannot honour {', '.join(sorted(missing))} for {request.operation} (nothing was sent)",
                f"drop {', '.join(sorted(missing))}, or pin a provider that honours it",
            )
        return provider, model or _default_model(provider, request)

    def _order(self, candidates: list[tuple[Provider, str]], prefs: Preferences) -> list[tuple[Provider, str]]:
        by_name = {p.capabilities.name: (p, m) for p, m in candidates}
        first = [by_name[n] for n in prefs.preferred if n in by_name]
        rest = [c for c in candidates if c not in first]
        weighted = [c for c in rest if prefs.weights.get(c[0].capabilities.name, 0) > 0]
        if weighted:
            weights = [prefs.weights[c[0].capabilities.name] for c in weighted]
            pick = self._rng.choices(weighted, weights=weights)[0]
            rest = [pick] + [c for c in rest if c is not pick]
        # A weight of 0 means "last resort": after every provider with a positive or no weight.
        zero = [c for c in rest if prefs.weights.get(c[0].capabilities.name) == 0]
        return first + [c for c in rest if c not in zero] + zero

    # ------------------------------------------------------------------ run

    async def run(self, request: ProviderRequest, call: Call, chain: Chain) -> ProviderResult:
        """Run ``request`` along ``chain``; the first success wins. Raises the error that ended the chain."""
        failures: list[str] = []
        for i, (provider, model) in enumerate(chain.links):
            name = provider.capabilities.name
            try:
                # A provider that keeps no ledger of its own (placeholder, local) gets one attempt here.
                with call.attempt(name, model) as attempt:
                    result = await provider.run(replace(request, model=model), call)
                    attempt.succeeded(result.cost_usd, result.generation_id)
            except e.ProviderError as exc:
                self._mark_failure(name, exc)
                failures.append(f"{name}: {exc.code}")
                if chain.pinned or i == len(chain.links) - 1 or not falls_back(exc):
                    raise self._final(exc, call, failures, fell_back=len(failures) > 1) from None
                await call.report(f"{name} failed ({exc.code}); trying {chain.links[i + 1][0].capabilities.name}")
                continue
            self.health.succeeded(name)
            try:
                await self._download(provider, result)
            except e.ProviderError as exc:  # billed already: another provider would bill again, so no fallback
                raise self._final(exc, call, failures, fell_back=bool(failures)) from None
            return result
        raise AssertionError("a chain is never empty")  # pragma: no cover

    async def _download(self, provider: Provider, result: ProviderResult) -> None:
        """Fetch result URLs at once (they expire): https, or the provider's own configured origin."""
        name = provider.capabilities.name
        while result.urls:
            url = result.urls.pop(0)
            image = await download(self.http, url, provider=name, provider_origin=provider.origin)
            result.images.append(image)

    def _mark_failure(self, name: str, exc: e.ProviderError) -> None:
        if falls_back(exc):
            self.health.failed(name)

    @staticmethod
    def _final(exc: e.ProviderError, call: Call, failures: list[str], *, fell_back: bool) -> e.ProviderError:
        """The error that ends a call: its own message, plus what every provider did and what was billed."""
        cost = call.cost_usd
        exc.cost_usd = cost
        notes = []
        if fell_back:
            notes.append(f"tried {len(failures)} providers ({'; '.join(failures)})")
        if cost:
            notes.append(f"${cost:.4f} was billed for attempts that produced nothing")
        if notes:
            exc.message = f"{exc.message} [{'; '.join(notes)}]"
        return exc


def _default_model(provider: Provider, request: ProviderRequest) -> str:
    models = provider.capabilities.default_models
    return models.get(request.operation) or models.get("generate") or request.model


def _no_provider(request: ProviderRequest, model: str | None, reasons: Mapping[str, str]) -> e.RequestError:
    why = "; ".join(f"{n}: {r}" for n, r in reasons.items()) or "no provider is configured"
    if reasons and all(r.startswith("not configured") or "only used" in r for r in reasons.values()):
        fix = "configure a provider (e.g. export OPENROUTER_API_KEY=… or OPENAI_API_KEY=…; run preflight), " + (
            "or call with provider='placeholder' to work offline"
        )
    elif model is not None:
        fix = "leave model unset (each provider uses its default), or pin the provider that serves it with provider"
    else:
        fix = "drop the arguments no configured provider honours, or configure one that does (run preflight)"
    what = f"{request.operation}" + (f" with model {model}" if model else "")
    return e.RequestError(f"no configured provider can take this {what} (nothing was sent): {why}", fix,
                          code="no_provider")  # fmt: skip
