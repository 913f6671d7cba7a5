"""`OpenAIEmulator`: runs the app under uvicorn on 127.0.0.1 in a background thread (the OpenRouter
emulator's `LoopbackServer`), and is the handle tests use to inject faults and inspect requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..openrouter.server import LoopbackEmulator, knob
from .app import build_app
from .catalogue import DEFAULT_MODELS, ModelSpec
from .faults import Fault
from .state import DEFAULT_KEY, EmulatorState, validate_knob


class OpenAIEmulator(LoopbackEmulator):
    """A loopback OpenAI Images API, or an OpenAI-compatible gateway with `gateway=True`. Lifecycle
    (`with`, `start()`/`stop()`), `root_url`, `requests`, `cancelled`, `wait_for_request()` and
    `wait_for_cancelled()` come from the OpenRouter emulator's `LoopbackEmulator`.

    `prefix` is where the API is mounted (`"/v1"` or `""`); `base_url` includes it, `root_url` does not.
    Gateway mode defaults: `models_route="unfiltered"`, `error_style="code_msg"`, `prompt_limit=1000`.
    """

    def __init__(
        self,
        gateway: bool = False,
        prefix: str = "/v1",
        *,
        api_key: str = DEFAULT_KEY,
        valid_keys: Iterable[str] = (),
        models: Iterable[ModelSpec] = DEFAULT_MODELS,
        models_route: str | None = None,
        error_style: str | None = None,
        prompt_limit: int | None = None,
        url_lifetime_s: float = 3600.0,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError("prefix must be '' or start with '/' and not end with '/', e.g. '/v1'")
        knobs: dict[str, Any] = {
            "models_route": models_route or ("unfiltered" if gateway else "images"),
            "error_style": error_style or ("code_msg" if gateway else "openai"),
            "prompt_limit": prompt_limit if prompt_limit is not None else (1000 if gateway else None),
            "url_lifetime_s": url_lifetime_s,
            "latency_s": latency_s,
        }
        for name, value in knobs.items():
            validate_knob(name, value)
        self.api_key = api_key
        self.gateway = gateway
        self.prefix = prefix
        self.state = EmulatorState(
            gateway=gateway, prefix=prefix, valid_keys={api_key, *valid_keys}, models=models, **knobs
        )
        super().__init__(host, port, "openai-gateway-emulator" if gateway else "openai-emulator")

    def _build_app(self) -> Any:
        return build_app(self.state)

    # -- addresses (`root_url`, the bare host, comes from the base class) --
    @property
    def base_url(self) -> str:
        """Where the API lives: `root_url + prefix` (the OpenAI SDK's `base_url`)."""
        return self.root_url + self.prefix

    # -- faults, models, clock --
    def fault(self, fault: Fault | str, times: int | None = 1, *, path: str | None = None, **options: Any) -> Fault:
        """Queue `fault` (a `Fault`, or a kind plus `Fault` options) for the next `times` matching requests;
        `times=None` keeps it until `clear_faults()`. Returns the queued `Fault`."""
        if isinstance(fault, str):
            fault = Fault(fault, path=path, **options)
        elif path is not None or options:
            raise ValueError("pass options inside the Fault, or pass a kind string")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for 'until cleared')")
        self.state.add_fault(fault, times)
        return fault

    def clear_faults(self) -> None:
        self.state.clear_faults()

    @property
    def models(self) -> list[ModelSpec]:
        with self.state.cond:
            return list(self.state.models.values())

    @models.setter
    def models(self, specs: Iterable[ModelSpec]) -> None:
        with self.state.cond:
            self.state.models = {m.id: m for m in specs}

    def add_model(self, spec: ModelSpec) -> None:
        with self.state.cond:
            self.state.models[spec.id] = spec

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (URL expiry) without sleeping."""
        with self.state.cond:
            self.state.clock_offset_s += seconds

    def reset(self) -> None:
        """Forget requests, cancellations, faults, issued URLs and clock shifts (keys, models and knobs stay)."""
        self.state.reset()

    latency_s = knob("latency_s", "Delay before each image answer (notices client disconnects).")
    url_lifetime_s = knob("url_lifetime_s", "Seconds a `data[].url` stays downloadable (default 3600).")
    prompt_limit = knob("prompt_limit", "Overrides every model's prompt limit (None = per model).")
    models_route = knob("models_route", "`images`, `unfiltered` or `missing`.")
    edits_route = knob("edits_route", "`present`, or `missing` (a gateway without `/images/edits`: 404).")
    error_style = knob("error_style", "`openai`, `code_msg` or `string`.")
    valid_keys = knob("valid_keys", "Keys that authenticate.")
