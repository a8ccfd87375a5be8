"""Settings: defaults, backend choice, and one-line errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, check_env_file, load_settings
from tests.processes import OWN_PREFIXES


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(OWN_PREFIXES):
            monkeypatch.delenv(name)


def test_defaults_pick_the_local_model(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.env")
    assert settings.chosen_backend() == "local"
    assert str(settings.db) == "data/tertulia.db"


def test_backend_is_chosen_from_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    assert load_settings(None).chosen_backend() == "openai"
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    assert load_settings(None).chosen_backend() == "gemini"
    monkeypatch.setenv("TERTULIA_BACKEND", "local")
    assert load_settings(None).chosen_backend() == "local"


def test_dotenv_file_is_read_and_blank_lines_mean_unset(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("TERTULIA_CONTEXT_TOKENS=\nTERTULIA_LANG=es\nTERTULIA_DB=/tmp/x.db\n")
    settings = load_settings(env)
    assert settings.default_lang == "es" and settings.context_tokens == 3000
    assert str(settings.db) == "/tmp/x.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TERTULIA_BACKEND", "claude"),
        ("TERTULIA_CONTEXT_TOKENS", "-5"),
        ("TERTULIA_LANG", "fr"),
        ("TELEGRAM_WEBHOOK_PORT", "99999"),
        ("TELEGRAM_WEBHOOK_SECRET", "has spaces and ümlauts"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}"):
        load_settings(None)


def test_gemini_backend_without_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERTULIA_BACKEND", "gemini")
    with pytest.raises(SettingsError, match="GEMINI_API_KEY"):
        load_settings(None)


def test_missing_gguf_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERTULIA_LOCAL_MODEL", str(tmp_path / "nope.gguf"))
    with pytest.raises(SettingsError, match="TERTULIA_LOCAL_MODEL"):
        load_settings(None)


def test_unknown_default_persona_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERTULIA_PERSONA", "pirate")
    with pytest.raises(SettingsError, match="TERTULIA_PERSONA"):
        load_settings(None)


def test_secrets_are_not_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "super-secret-key")
    assert "super-secret-key" not in repr(load_settings(None))


def test_an_unreadable_env_file_is_one_clear_error(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"TERTULIA_LANG=\xff\xfe\n")
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        load_settings(env)


def test_the_embedder_and_learning_follow_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(None)
    assert settings.chosen_embedder() is None  # offline: recall by words only
    assert not settings.learns("local") and settings.learns("gemini")
    # Ollama and such need an embedding model named before vectors are asked of them.
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    assert load_settings(None).chosen_embedder() is None
    monkeypatch.setenv("OPENAI_EMBEDDING_MODEL", "nomic-embed-text")
    openai = load_settings(None)
    assert openai.chosen_embedder() == "openai"
    assert openai.embedder_options("openai")["model"] == "nomic-embed-text"
    monkeypatch.setenv("GEMINI_API_KEY", "g")
    assert load_settings(None).chosen_embedder() == "gemini"
    monkeypatch.setenv("TERTULIA_EMBEDDER", "none")
    monkeypatch.setenv("TERTULIA_LEARN", "off")
    off = load_settings(None)
    assert off.chosen_embedder() is None and not off.learns("gemini")


def test_a_gemini_embedder_without_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERTULIA_EMBEDDER", "gemini")
    with pytest.raises(SettingsError, match="^GEMINI_API_KEY"):
        load_settings(None)


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("TERTULIA_BACKEND", "Gemini", "backend", "gemini"),
        ("TERTULIA_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("TERTULIA_LANG", " ES ", "default_lang", "es"),
        ("TERTULIA_LEARN", "OFF", "learn", "off"),
        ("TERTULIA_EMBEDDER", "None", "embedder", "none"),
    ],
)
def test_choices_are_case_insensitive(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str, expected: str
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv(name, value)
    assert getattr(load_settings(None), field) == expected


def test_case_does_not_rescue_an_unknown_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERTULIA_LOG_LEVEL", "Verbose")
    with pytest.raises(SettingsError, match="^TERTULIA_LOG_LEVEL: .*'DEBUG'"):
        load_settings(None)


@pytest.mark.parametrize("variable", ["TERTULIA_BACKEND", "TERTULIA_EMBEDDER"])
def test_openai_without_key_or_base_url_is_an_error(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "openai")
    with pytest.raises(SettingsError, match=f"^OPENAI_API_KEY or OPENAI_BASE_URL .*{variable}="):
        load_settings(None)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")  # Ollama needs no key
    load_settings(None)


def test_a_backend_option_is_named_by_its_variable() -> None:
    settings = load_settings(None)
    assert settings.backend_variable("gemini", "api_key") == "GEMINI_API_KEY"
    assert settings.backend_variable("openai", "model") == "OPENAI_MODEL"
    assert settings.backend_variable("local", "threads") == "TERTULIA_LOCAL_THREADS"
    assert settings.backend_variable("local", "weights") == "TERTULIA_BACKEND"


def test_only_a_settings_file_named_on_purpose_must_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    check_env_file(".env")  # the default: optional
    check_env_file("./.env")
    with pytest.raises(SettingsError, match=r"^--env-file prod\.env: no such file$"):
        check_env_file("prod.env")
    with pytest.raises(SettingsError, match="^--env-file .*: a directory"):
        check_env_file(tmp_path)
    (tmp_path / "prod.env").write_text("TERTULIA_LANG=es\n")
    check_env_file("prod.env")
