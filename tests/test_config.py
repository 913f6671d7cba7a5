from pathlib import Path

import pytest

from imagegen_mcp.config import DEFAULT_BASE_URL, DEFAULT_MODEL, Settings
from imagegen_mcp.errors import ConfigError


def test_defaults_are_absolute_and_under_the_users_pictures_folder(tmp_path: Path) -> None:
    s = Settings.from_env({"HOME": str(tmp_path)})
    assert s.output_dir == tmp_path / "Pictures" / "imagegen"
    assert s.queue_dir == s.output_dir / "imagegen-queue"
    assert s.output_dir.is_absolute()
    assert (s.provider, s.model, s.base_url, s.max_workers) == (
        "openrouter",
        DEFAULT_MODEL,
        DEFAULT_BASE_URL,
        2,
    )


def test_relative_output_dir_is_made_absolute_once_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"IMAGEGEN_OUTPUT_DIR": "pics"})
    assert s.output_dir == tmp_path / "pics"


def test_every_contract_variable_is_read(tmp_path: Path) -> None:
    env = {
        "OPENROUTER_API_KEY": "sk-or-v1-abc",
        "OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1/",
        "IMAGEGEN_PROVIDER": "placeholder",
        "IMAGEGEN_MODEL": "openai/gpt-image-1",
        "IMAGEGEN_OUTPUT_DIR": str(tmp_path / "o"),
        "IMAGEGEN_QUEUE_DIR": str(tmp_path / "q"),
        "IMAGEGEN_MAX_WORKERS": "5",
        "IMAGEGEN_ORPHAN_TIMEOUT_S": "60",
        "IMAGEGEN_MCP_TOKEN": "tok",
        "IMAGEGEN_WORKSPACE": f"{tmp_path / 'a'}:{tmp_path / 'b'}",
        "IMAGEGEN_MAX_BASELINE_MB": "0.5",
    }
    s = Settings.from_env(env)
    assert s.api_key == "sk-or-v1-abc"
    assert s.base_url == "http://127.0.0.1:9/api/v1"
    assert s.provider == "placeholder"
    assert s.model == "openai/gpt-image-1"
    assert s.queue_dir == tmp_path / "q"
    assert (s.max_workers, s.orphan_timeout_s, s.mcp_token, s.max_baseline_mb) == (5, 60.0, "tok", 0.5)
    assert s.workspace == (tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGEGEN_MAX_WORKERS", "two"),
        ("IMAGEGEN_MAX_WORKERS", "0"),
        ("IMAGEGEN_ORPHAN_TIMEOUT_S", "nan"),
        ("IMAGEGEN_MAX_BASELINE_MB", "-1"),
        ("IMAGEGEN_PROVIDER", "dalle"),
        ("OPENROUTER_BASE_URL", "openrouter.ai"),
        ("IMAGEGEN_QUEUE_URL", "mysql://db/queue"),
        ("IMAGEGEN_QUEUE_URL", "postgresql://host:notaport/db"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_fix(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value, "HOME": "/home/u"})
    assert name in info.value.message
    assert info.value.fix and name in info.value.fix


def test_the_key_is_not_in_the_settings_repr() -> None:
    s = Settings.from_env({"OPENROUTER_API_KEY": "sk-or-v1-secretsecret", "HOME": "/home/u"})
    assert "secretsecret" not in repr(s)


def test_the_queue_url_is_read_and_its_password_never_shown() -> None:
    s = Settings.from_env({"IMAGEGEN_QUEUE_URL": "postgresql://me:hunter22pw@db:5432/imagegen", "HOME": "/home/u"})
    assert s.queue_url == "postgresql://me:hunter22pw@db:5432/imagegen"
    assert "hunter22pw" not in repr(s) and "hunter22pw" in s.secrets()
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"IMAGEGEN_QUEUE_URL": "mysql://me:hunter22pw@db/x", "HOME": "/home/u"})
    assert "hunter22pw" not in str(info.value)
