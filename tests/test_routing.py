"""The router's rules, with small fake providers (each returns a tiny PNG or raises what it is told).

The same rules run through MCP against the emulators in tests/surface/test_routing_tools.py; here each rule is
checked alone, with fixed weights (1/0) and a fixed clock, never with luck.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imagegen_mcp import errors as e
from imagegen_mcp.config import Settings
from imagegen_mcp.providers.base import Call, Capabilities, ModelInfo, ProviderImage, ProviderRequest, ProviderResult
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.registry import Providers
from imagegen_mcp.queue.health import Health
from imagegen_mcp.routing import Preferences, Router, falls_back

pytestmark = pytest.mark.anyio

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000002020101a0e5d1b30000000049454e44ae426082"
)
GENERATE_ARGS = frozenset({"n", "aspect_ratio", "image_size", "input_images"})


class Fake:
    """A provider that answers with a 1x1 PNG, or raises the next error it was given."""

    def __init__(self, name: str, *, models: tuple[str, ...] = (), arguments: frozenset[str] = GENERATE_ARGS) -> None:
        self.capabilities = Capabilities(
            name=name, operations={"generate": arguments}, default_models={"generate": f"{name}-default"}
        )
        self.configured = True
        self.origin = None
        self.known = set(models) | {f"{name}-default"}
        self.errors: list[e.ProviderError] = []
        self.calls: list[ProviderRequest] = []

    async def run(self, request: ProviderRequest, call: Call) -> ProviderResult:
        self.calls.append(request)
        if self.errors:
            raise self.errors.pop(0)
        return ProviderResult([ProviderImage(PNG, "image/png")], request.model, self.capabilities.name, cost_usd=0.01)

    async def models(self) -> list[ModelInfo]:
        return [ModelInfo(m) for m in sorted(self.known)]

    async def knows_model(self, model: str) -> bool:
        return model in self.known

    async def check(self, model: str | None) -> list[object]:
        return []

    async def aclose(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fakes() -> dict[str, Fake]:
    return {"openrouter": Fake("openrouter"), "openai": Fake("openai", models=("gpt-image-2",)),
            "compatible": Fake("compatible"), "placeholder": Fake("placeholder")}  # fmt: skip


def make_router(
    tmp_path: Path, fakes: dict[str, Fake], clock: Clock, *, default: str = "auto", prefs: Preferences | None = None
) -> Router:
    env = {"OPENROUTER_API_KEY": "k1", "OPENAI_API_KEY": "k2", "IMAGE_API_KEY": "k3", "IMAGE_BASE_URL": "http://x"}
    settings = Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider_env=env)
    providers = Providers(settings, SharedClient())
    for name, fake in fakes.items():
        providers.add(name, fake)  # type: ignore[arg-type]
    health = Health(tmp_path / "queue", cooldown_s=60, clock=clock)
    return Router(providers, SharedClient(), order=("openrouter", "openai", "compatible", "placeholder"),
                  default=default, preferences=prefs or Preferences(), health=health)  # fmt: skip


def names(chain: object) -> list[str]:
    return [p.capabilities.name for p, _ in chain.links]  # type: ignore[attr-defined]


REQUEST = ProviderRequest(prompt="a kite", model="")


async def test_auto_chain_follows_configuration_order_without_placeholder(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock)
    assert names(await router.chain(REQUEST)) == ["openrouter", "openai", "compatible"]


async def test_preferred_come_first_and_blocked_are_removed(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock, prefs=Preferences(("compatible",), frozenset({"openrouter"})))
    assert names(await router.chain(REQUEST)) == ["compatible", "openai"]


async def test_placeholder_joins_only_when_preferred(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock)
    chain = await router.chain(REQUEST, preferences=Preferences(("placeholder",)))
    assert names(chain)[0] == "placeholder"


async def test_weight_one_goes_first_and_weight_zero_goes_last(tmp_path: Path, fakes, clock) -> None:
    prefs = Preferences(weights={"compatible": 1.0, "openrouter": 0.0})
    router = make_router(tmp_path, fakes, clock, prefs=prefs)
    for _ in range(20):  # a fixed 1/0 split: the same order every time, not luck
        assert names(await router.chain(REQUEST)) == ["compatible", "openai", "openrouter"]


async def test_request_preferences_win_over_configured_ones(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock, prefs=Preferences(blocked=frozenset({"openai"})))
    chain = await router.chain(REQUEST, preferences=Preferences(("openai",)))
    assert names(chain)[0] == "openai"


async def test_rate_limit_falls_back_and_every_attempt_is_listed(tmp_path: Path, fakes, clock) -> None:
    fakes["openrouter"].errors.append(e.RateLimitError("429", "wait", cost_usd=None))
    router = make_router(tmp_path, fakes, clock)
    call = Call()
    result = await router.run(REQUEST, call, await router.chain(REQUEST))
    assert result.provider == "openai"
    assert [(a.provider, a.ok) for a in call.attempts] == [("openrouter", False), ("openai", True)]
    assert call.cost_usd == pytest.approx(0.01)


@pytest.mark.parametrize(
    "error",
    [
        e.ModerationError("flagged", "rephrase"),
        e.NoImageError("refused", "rephrase", finish_reason="IMAGE_SAFETY"),
        e.BadRequestError("bad size", "fix it"),
    ],
    ids=["moderation", "safety-no-image", "bad-request"],
)
async def test_a_refusal_or_bad_request_sends_nothing_to_the_next_provider(
    tmp_path: Path, fakes, clock, error: e.ProviderError
) -> None:
    fakes["openrouter"].errors.append(error)
    router = make_router(tmp_path, fakes, clock)
    with pytest.raises(type(error)):
        await router.run(REQUEST, Call(), await router.chain(REQUEST))
    assert fakes["openai"].calls == [] and fakes["compatible"].calls == []


@pytest.mark.parametrize(
    "error",
    [
        e.ProviderDownError("503", "later"),
        e.ProviderTimeoutError("slow", "later"),
        e.ConnectionFailedError("reset", "later"),
        e.CreditsError("402", "top up"),
        e.ModelNotFoundError("gone", "pick another"),
    ],
)
async def test_outages_credits_and_missing_models_fall_back(tmp_path: Path, fakes, clock, error) -> None:
    assert falls_back(error)
    fakes["openrouter"].errors.append(error)
    router = make_router(tmp_path, fakes, clock)
    result = await router.run(REQUEST, Call(), await router.chain(REQUEST))
    assert result.provider == "openai"


async def test_a_pinned_provider_that_fails_is_not_replaced(tmp_path: Path, fakes, clock) -> None:
    fakes["openai"].errors.append(e.ProviderDownError("503", "later"))
    router = make_router(tmp_path, fakes, clock)
    with pytest.raises(e.ProviderDownError):
        await router.run(REQUEST, Call(), await router.chain(REQUEST, pinned="openai"))
    assert fakes["openrouter"].calls == [] and fakes["compatible"].calls == []


async def test_a_model_without_provider_routes_only_to_providers_that_know_it(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock)
    chain = await router.chain(REQUEST, model="gpt-image-2")
    assert names(chain) == ["openai"] and chain.links[0][1] == "gpt-image-2"


async def test_an_argument_a_pinned_provider_cannot_honour_is_refused_before_any_request(
    tmp_path: Path, fakes, clock
) -> None:
    fakes["openai"] = Fake("openai", arguments=frozenset({"n"}))
    router = make_router(tmp_path, fakes, clock)
    with pytest.raises(e.RequestError, match="aspect_ratio"):
        await router.chain(ProviderRequest(prompt="a kite", model="", aspect_ratio="16:9"), pinned="openai")
    auto = await router.chain(ProviderRequest(prompt="a kite", model="", aspect_ratio="16:9"))
    assert "openai" not in names(auto)


async def test_two_failures_in_a_row_cool_a_provider_down_until_the_cooldown_ends(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock)
    for _ in range(2):
        fakes["openrouter"].errors.append(e.ProviderDownError("503", "later"))
        await router.run(REQUEST, Call(), await router.chain(REQUEST))
    assert names(await router.chain(REQUEST)) == ["openai", "compatible", "openrouter"]  # skipped: used last
    other_process = Health(tmp_path / "queue", cooldown_s=60, clock=clock)  # the state is shared on disk
    assert other_process.cooling_down("openrouter") and other_process.seconds_left("openrouter") == 60
    clock.now += 61
    assert names(await router.chain(REQUEST)) == ["openrouter", "openai", "compatible"]


async def test_a_success_between_failures_resets_the_count(tmp_path: Path, fakes, clock) -> None:
    router = make_router(tmp_path, fakes, clock)
    fakes["openrouter"].errors.append(e.ProviderDownError("503", "later"))
    await router.run(REQUEST, Call(), await router.chain(REQUEST))
    await router.run(REQUEST, Call(), await router.chain(REQUEST))  # openrouter succeeds now
    fakes["openrouter"].errors.append(e.ProviderDownError("503", "later"))
    await router.run(REQUEST, Call(), await router.chain(REQUEST))
    assert not router.health.cooling_down("openrouter")


async def test_no_configured_provider_is_a_clear_error(tmp_path: Path, clock) -> None:
    settings = Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "queue")
    router = Router(Providers(settings, SharedClient()), SharedClient(), order=("openrouter", "openai", "placeholder"),
                    default="auto", preferences=Preferences(), health=Health(None, 60))  # fmt: skip
    with pytest.raises(e.RequestError) as info:
        await router.chain(REQUEST)
    assert "nothing was sent" in info.value.message and "OPENROUTER_API_KEY" in info.value.fix
