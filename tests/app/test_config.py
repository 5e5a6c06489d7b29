"""Settings: read from FITBOARD_* variables, refuse unsafe combinations, documented in README."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import MIN_TOKEN_LENGTH, Settings, default_workers, get_settings

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = "t" * MIN_TOKEN_LENGTH


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Each test starts from an environment without FITBOARD_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("FITBOARD_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_local_and_embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.data_dir == tmp_path / "fitboard-data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'fitboard-data' / 'fitboard.db'}"
    assert settings.datasets_dir == tmp_path / "fitboard-data" / "datasets"
    assert settings.token is None
    assert settings.torch_threads == 1
    assert settings.workers == default_workers() >= 1


def test_every_field_reads_its_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FITBOARD_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("FITBOARD_DATABASE_URL", "postgresql+psycopg://u:p@db/fitboard")
    monkeypatch.setenv("FITBOARD_HOST", "0.0.0.0")
    monkeypatch.setenv("FITBOARD_PORT", "9001")
    monkeypatch.setenv("FITBOARD_WORKERS", "3")
    monkeypatch.setenv("FITBOARD_TOKEN", TOKEN)
    monkeypatch.setenv("FITBOARD_ALLOWED_ORIGINS", "http://a.example, https://b.example/")
    monkeypatch.setenv("FITBOARD_RECIPE_MODULES", '["team.recipes", "lab.more"]')
    monkeypatch.setenv("FITBOARD_DATASETS_DIR", str(tmp_path / "sets"))
    monkeypatch.setenv("FITBOARD_TORCH_THREADS", "4")
    settings = get_settings()
    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url == "postgresql+psycopg://u:p@db/fitboard"
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9001, 3)
    assert settings.token is not None and settings.token.get_secret_value() == TOKEN
    assert settings.allowed_origins == ["http://a.example", "https://b.example"]
    assert settings.recipe_modules == ["team.recipes", "lab.more"]
    assert settings.datasets_dir == tmp_path / "sets"
    assert settings.torch_threads == 4


def test_relative_data_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("rel"))
    assert settings.data_dir.is_absolute() and settings.data_dir == tmp_path / "rel"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org"])
def test_public_host_without_token_is_refused(host):
    with pytest.raises(ValidationError, match="FITBOARD_TOKEN"):
        Settings(host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_host_needs_no_token(host):
    assert Settings(host=host).host == host


def test_public_host_with_token_or_explicit_opt_out_is_accepted():
    assert Settings(host="0.0.0.0", token=TOKEN).host == "0.0.0.0"
    assert Settings(host="0.0.0.0", allow_unauthenticated=True).token is None


def test_short_token_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("FITBOARD_TOKEN", "hunter2")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert "token" in str(info.value) and str(MIN_TOKEN_LENGTH) in str(info.value)
    assert "hunter2" not in str(info.value)


def test_token_is_not_shown_in_repr():
    assert TOKEN not in repr(Settings(token=TOKEN))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 0),
        ("port", 70000),
        ("workers", 0),
        ("torch_threads", 0),
        ("allowed_origins", ["example.org"]),
        ("max_body_bytes", 10),
        ("recipe_modules", ["os; rm -rf /"]),
        ("no_such_setting", 1),
    ],
)
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValidationError) as info:
        Settings(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_allowed_hosts_and_body_limit_read_their_environment_variables(monkeypatch):
    monkeypatch.setenv("FITBOARD_ALLOWED_HOSTS", "Fitboard.LAN, 192.168.1.5,[::1]")
    monkeypatch.setenv("FITBOARD_MAX_BODY_BYTES", "65536")
    settings = Settings()
    assert settings.allowed_hosts == ["fitboard.lan", "192.168.1.5", "[::1]"]
    assert settings.max_body_bytes == 65536
    assert Settings(allowed_hosts='["*"]').allowed_hosts == ["*"]
    monkeypatch.setenv("FITBOARD_ALLOWED_HOSTS", "[2001:db8::1],fitboard.lan")
    assert Settings().allowed_hosts == ["[2001:db8::1]", "fitboard.lan"]


@pytest.mark.parametrize("host", ["https://fitboard.lan", "fitboard.lan:8000", "a/b", "a b", ""])
def test_an_allowed_host_must_be_a_bare_name(host):
    with pytest.raises(ValidationError, match="without scheme, port or path") as info:
        Settings(allowed_hosts=[host])
    assert info.value.errors()[0]["loc"][0] == "allowed_hosts"


def test_unknown_environment_variable_is_ignored(monkeypatch):
    monkeypatch.setenv("FITBOARD_TEST_POSTGRES_URL", "postgresql://elsewhere")
    assert Settings().port == 8000


def test_run_dir_stays_under_runs_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.run_dir("a1b2") == tmp_path / "runs" / "a1b2"
    for bad in ["..", "../x", "a/b", "", "/etc"]:
        with pytest.raises(ValueError, match="plain name"):
            settings.run_dir(bad)


def _readme_settings_rows() -> dict[str, str]:
    """The Configuration table of README.md: env var -> the whole row."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`(FITBOARD_[A-Z_]+)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_setting_is_documented_in_readme():
    rows = _readme_settings_rows()
    fields = {f"FITBOARD_{name.upper()}" for name in Settings.model_fields}
    assert fields - rows.keys() == set(), "settings missing from README's Configuration table"
    assert rows.keys() - fields == set(), "README documents settings that do not exist"


def test_readme_states_each_simple_default():
    rows = _readme_settings_rows()
    for name, field in Settings.model_fields.items():
        if field.default is not None and isinstance(field.default, (int, str, bool)):
            shown = str(field.default).lower() if isinstance(field.default, bool) else field.default
            assert f"`{shown}`" in rows[f"FITBOARD_{name.upper()}"], name
