"""Loopback OpenRouter emulator: a real HTTP server on 127.0.0.1 that speaks the OpenRouter image
wire format (both `/images` and chat completions), with injectable faults.

    from tests.emulator.openrouter import Emulator, Fault

    with Emulator() as emu:
        emu.push_fault(Fault("http", status=429, retry_after=2))
        ...  # point the client at emu.base_url with emu.api_key
"""

from .catalogue import DEFAULT_MODELS, ModelSpec
from .faults import ALL_KINDS, ERROR_KINDS, NO_IMAGE_KINDS, SUCCESS_KINDS, Fault
from .server import Emulator
from .state import DEFAULT_KEY, RecordedRequest

__all__ = [
    "ALL_KINDS",
    "DEFAULT_KEY",
    "DEFAULT_MODELS",
    "ERROR_KINDS",
    "NO_IMAGE_KINDS",
    "SUCCESS_KINDS",
    "Emulator",
    "Fault",
    "ModelSpec",
    "RecordedRequest",
]
