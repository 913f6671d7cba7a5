"""The local provider: Lanczos upscale (labelled "not AI") and outpaint canvases, and only those."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagegen_mcp import errors as e
from imagegen_mcp.config import Settings
from imagegen_mcp.providers.base import Call, ProviderRequest
from imagegen_mcp.providers.http import SharedClient
from imagegen_mcp.providers.local import LocalProvider
from imagegen_mcp.providers.registry import NAMES, Providers
from imagegen_mcp.queue.health import Health
from imagegen_mcp.routing import Preferences, Router

pytestmark = pytest.mark.anyio


def data_url(width: int, height: int, colour: Any = (200, 60, 20)) -> str:
    buf = io.BytesIO()
    im = Image.new("RGB", (width, height), colour)
    im.paste((20, 60, 200), (0, 0, width // 2, height))  # left half blue: the stretched border shows it
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


async def run(operation: str, **kw: Any) -> Any:
    kw.setdefault("prompt", "")
    request = ProviderRequest(model="", operation=operation, input_images=(data_url(120, 80),), **kw)
    return await LocalProvider().run(request, Call())


@pytest.mark.parametrize("scale", [2, 4])
async def test_upscale_multiplies_the_size_and_says_it_is_not_ai(scale: int) -> None:
    result = await run("upscale", options={"scale": scale, "mode": "fast"})
    [image] = result.images
    assert opened(image.data).size == (120 * scale, 80 * scale)
    assert "not AI super-resolution" in result.text
    assert result.metadata["ai"] is False and result.cost_usd == 0.0 and result.model == "lanczos"


async def test_upscale_honours_output_format() -> None:
    result = await run("upscale", options={"scale": 2}, output_format="webp")
    assert result.images[0].mime_type == "image/webp"


async def test_conservative_or_creative_upscale_is_refused_naming_the_mode() -> None:
    with pytest.raises(e.BadRequestError) as info:
        await run("upscale", options={"scale": 2, "mode": "creative"}, prompt="crisp")
    assert "creative" in info.value.message and "mode='fast'" in info.value.fix


async def test_outpaint_grows_the_canvas_and_fills_the_border_from_the_edges() -> None:
    result = await run("outpaint", options={"expand": {"left": 40, "right": 40, "up": 0, "down": 0}})
    im = opened(result.images[0].data).convert("RGB")
    assert im.size == (200, 80)
    assert im.getpixel((40, 40)) == (20, 60, 200) and im.getpixel((159, 40)) == (200, 60, 20)
    left, right = im.getpixel((5, 40)), im.getpixel((195, 40))
    assert left[2] > left[0] and right[0] > right[2]  # each border continues its own edge's colour
    assert "not generated content" in result.text and result.model == "edge-stretch"


async def test_other_operations_are_not_declared() -> None:
    caps = LocalProvider.capabilities
    assert set(caps.operations) == {"upscale", "outpaint"}
    assert caps.unhonoured("upscale", frozenset({"n"})) == {"n"}


async def test_local_is_registered_before_placeholder_and_joins_auto_only_when_preferred(tmp_path: Path) -> None:
    assert NAMES[-2:] == ("local", "placeholder")
    settings = Settings(output_dir=tmp_path / "out", queue_dir=tmp_path / "queue", provider_env={})
    health = Health(tmp_path / "queue", cooldown_s=60)
    router = Router(Providers(settings, SharedClient()), SharedClient(), order=NAMES, default="auto",
                    preferences=Preferences(), health=health)  # fmt: skip
    request = ProviderRequest(prompt="", model="", operation="upscale", input_images=("data:",), options={"scale": 2})
    with pytest.raises(e.RequestError, match="only used when named in preferred"):
        await router.chain(request)
    chain = await router.chain(request, preferences=Preferences(("local",)))
    assert chain.describe() == ["local:lanczos"]
    # A request local cannot honour (n > 1) leaves it out, even when preferred.
    with pytest.raises(e.RequestError, match="local: cannot honour n"):
        await router.chain(ProviderRequest(prompt="", model="", operation="upscale", n=2, input_images=("data:",)),
                           preferences=Preferences(("local",)))  # fmt: skip
