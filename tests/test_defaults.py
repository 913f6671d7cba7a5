"""Remembered defaults: the CLI writes them, settings honour them in their place, the server uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from imagegen_mcp import defaults
from imagegen_mcp.config import Settings
from imagegen_mcp.errors import ConfigError
from imagegen_mcp.surface.cli.main import main
from imagegen_mcp.surface.server import build_server
from tests.conftest import with_settings

PROMPT = "A red fox curled up asleep in fresh snow at dawn, close-up, soft golden light, a serene mood"


def env_for(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"), **more}


def test_defaults_set_writes_the_per_user_file_and_show_says_where_each_comes_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in env_for(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("IMAGEGEN_MODEL", raising=False)
    monkeypatch.delenv("IMAGEGEN_CONFIG", raising=False)
    monkeypatch.delenv("IMAGEGEN_OUTPUT_DIR", raising=False)
    out_dir = tmp_path / "pictures"
    assert main(["defaults", "set", "model=openai/gpt-image-1", "style=anime", "aspect_ratio=16:9",
                 f"out_dir={out_dir}"]) == 0  # fmt: skip
    assert (tmp_path / "config" / "imagegen-mcp" / "defaults.toml").is_file()
    assert main(["defaults", "show"]) == 0
    shown = capsys.readouterr().out
    assert "model = openai/gpt-image-1  [remembered" in shown and "style = anime  [remembered" in shown
    assert f"out_dir = {out_dir}  [remembered" in shown and "image_size = (none)  [built-in]" in shown
    assert main(["defaults", "set", "style="]) == 0  # KEY= forgets
    assert "style" not in defaults.load(env_for(tmp_path))


def test_a_bad_default_is_refused_with_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        defaults.save(env_for(tmp_path), {"style": "pixel-art"})
    assert "watercolor" in err.value.fix
    with pytest.raises(ConfigError) as err:
        defaults.save(env_for(tmp_path), {"colour": "red"})
    assert "aspect_ratio" in err.value.fix


def test_the_environment_beats_imagegen_config_which_beats_remembered_defaults(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    defaults.save(env, {"model": "remembered/model", "style": "anime", "aspect_ratio": "1:1"})
    config = tmp_path / "imagegen.toml"
    config.write_text('[defaults]\nstyle = "watercolor"\n')
    settings = Settings.from_env({**env, "IMAGEGEN_CONFIG": str(config), "IMAGEGEN_MODEL": "env/model"})
    assert settings.model == "env/model" and settings.default_sources["model"] == "environment"
    assert settings.default_style == "watercolor" and settings.default_sources["style"] == "IMAGEGEN_CONFIG"
    assert settings.default_aspect_ratio == "1:1" and settings.default_sources["aspect_ratio"].startswith("remembered")
    plain = Settings.from_env(env)
    assert plain.model == "remembered/model" and plain.default_style == "anime"


@pytest.mark.anyio
async def test_the_server_uses_the_defaults_and_the_calls_own_argument_wins(settings: Settings) -> None:
    remembered = with_settings(
        settings, default_style="watercolor", default_aspect_ratio="16:9",
        default_sources={"style": "remembered (x)", "aspect_ratio": "remembered (x)"},
    )  # fmt: skip
    async with Client(build_server(remembered)) as c:
        plain = await c.call_tool("generate_image", {"prompt": PROMPT, "dry_run": True})
        own = await c.call_tool("generate_image", {"prompt": PROMPT, "style": "anime", "aspect_ratio": "1:1",
                                                   "dry_run": True})  # fmt: skip
        report = await c.call_tool("preflight", {})
    request = plain.structured_content["request"]  # type: ignore[index]
    assert request["prompt"].endswith("watercolour painting with soft edges and visible paper texture.")
    assert request["aspect_ratio"] == "16:9"
    mine = own.structured_content["request"]  # type: ignore[index]
    assert "anime illustration" in mine["prompt"] and mine["aspect_ratio"] == "1:1"
    check = next(c for c in report.structured_content["checks"] if c["name"] == "defaults")  # type: ignore[index]
    assert "style=watercolor (remembered (x))" in check["detail"]
