"""Settings read from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Backend = Literal["gemini", "openai", "local"]


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable."""


def _choices(annotation: object) -> dict[str, str]:
    """A Literal's string choices (also inside `X | None`), keyed by their lower case."""
    if get_origin(annotation) is Literal:
        return {a.lower(): a for a in get_args(annotation) if isinstance(a, str)}
    return {k: v for arg in get_args(annotation) for k, v in _choices(arg).items()}


class Settings(BaseSettings):
    """Every knob tertulia reads. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # `.env.example` copies leave `KEY=` lines: those mean "unset", not "".
        env_ignore_empty=True,
    )

    # Engine and storage
    backend: Backend | None = Field(None, alias="TERTULIA_BACKEND")
    # Backends that answer, in order, when the chosen one is down: "local", "openai,local".
    fallback: str = Field("", alias="TERTULIA_FALLBACK")
    db: Path = Field(Path("data/tertulia.db"), alias="TERTULIA_DB")
    context_tokens: int = Field(3000, alias="TERTULIA_CONTEXT_TOKENS", gt=0)
    max_input_chars: int = Field(16000, alias="TERTULIA_MAX_INPUT_CHARS", gt=0)
    default_lang: Literal["en", "es"] = Field("en", alias="TERTULIA_LANG")
    default_persona: str = Field("assistant", alias="TERTULIA_PERSONA")
    admins: str = Field("", alias="TERTULIA_ADMINS")
    # Who may talk to the bot: a sender, chat or Discord server on any list gets in; all
    # three empty lets everyone in. Admins always get in.
    allowed_users: str = Field("", alias="TERTULIA_ALLOWED_USERS")  # telegram:42,discord:7
    allowed_chats: str = Field("", alias="TERTULIA_ALLOWED_CHATS")  # telegram:-100123
    allowed_guilds: str = Field("", alias="TERTULIA_ALLOWED_GUILDS")  # Discord server ids
    # Questions to the model per person: a minute on average (0: no limit), this many at once.
    rate_per_minute: int = Field(10, alias="TERTULIA_RATE_PER_MINUTE", ge=0)
    rate_burst: int = Field(5, alias="TERTULIA_RATE_BURST", ge=1, le=1000)
    # Tokens of questions and answers per person and UTC day (0: unlimited).
    daily_tokens: int = Field(0, alias="TERTULIA_DAILY_TOKENS", ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", alias="TERTULIA_LOG_LEVEL"
    )
    # "json": one JSON object per log line, for log collectors.
    log_format: Literal["text", "json"] = Field("text", alias="TERTULIA_LOG_FORMAT")
    # Prometheus metrics on http://HOST:PORT/metrics (unset: off). Each process adds its
    # platform's offset to the port (adapters/metrics.py: telegram +0, discord +1, chat +2).
    metrics_port: int | None = Field(None, alias="TERTULIA_METRICS_PORT", ge=1, le=65535)
    metrics_host: str = Field("127.0.0.1", alias="TERTULIA_METRICS_HOST", min_length=1)
    model_timeout: float = Field(60.0, alias="TERTULIA_MODEL_TIMEOUT", gt=0)
    model_retries: int = Field(4, alias="TERTULIA_MODEL_RETRIES", ge=0, le=10)
    # How long a person waits for a reply's first words, every attempt and pause included;
    # after it, a "try again" notice. Once words flow, TERTULIA_MODEL_TIMEOUT bounds each gap.
    model_deadline: float = Field(90.0, alias="TERTULIA_MODEL_DEADLINE", gt=0)
    max_output_tokens: int = Field(1024, alias="TERTULIA_MAX_OUTPUT_TOKENS", gt=0)
    # How long a reply's final text keeps trying to reach the platform (rate limits, outages).
    delivery_deadline: float = Field(600.0, alias="TERTULIA_DELIVERY_DEADLINE", gt=0)
    # On SIGTERM, how long replies in flight may take to finish.
    drain_seconds: float = Field(10.0, alias="TERTULIA_DRAIN_SECONDS", ge=0)
    # Facts and summaries written by the model in the background. "auto": on for Gemini
    # and OpenAI-compatible models, off for the small local one (its facts are noise).
    learn: Literal["auto", "on", "off"] = Field("auto", alias="TERTULIA_LEARN")
    # At most one fact extraction per this many of a person's turns.
    facts_every: int = Field(4, alias="TERTULIA_FACTS_EVERY", ge=1, le=1000)
    # Vectors for recall by meaning. "auto": Gemini's or OpenAI's embeddings when their
    # key is set (not for a custom OPENAI_BASE_URL unless OPENAI_EMBEDDING_MODEL names
    # one); "local" needs `make embed-local`; "none": recall by words only.
    embedder: Literal["auto", "none", "gemini", "openai", "local"] = Field(
        "auto", alias="TERTULIA_EMBEDDER"
    )
    gemini_embedding_model: str = Field(
        "gemini-embedding-001", alias="GEMINI_EMBEDDING_MODEL", min_length=1
    )
    openai_embedding_model: str | None = Field(None, alias="OPENAI_EMBEDDING_MODEL")

    # Local model (llama-cpp-python)
    # A shipped model's name (qwen2.5-coder-0.5b, smollm2, gemma3-270m; any case; see
    # bot/models/local_models.py) or the path of a .gguf file. Unset: the default model.
    local_model: str | None = Field(None, alias="TERTULIA_LOCAL_MODEL")
    # A LoRA adapter written by `tertulia tune`, served on top of the local model.
    local_lora: Path | None = Field(None, alias="TERTULIA_LOCAL_LORA")
    local_context: int = Field(2048, alias="TERTULIA_LOCAL_CONTEXT", ge=256)
    local_threads: int | None = Field(None, alias="TERTULIA_LOCAL_THREADS", gt=0)

    # Gemini (google-genai)
    gemini_api_key: SecretStr | None = Field(None, alias="GEMINI_API_KEY")
    gemini_model: str = Field("gemini-flash-latest", alias="GEMINI_MODEL", min_length=1)
    gemini_base_url: str | None = Field(None, alias="GEMINI_BASE_URL")

    # OpenAI-compatible (openai SDK)
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL", min_length=1)

    # Telegram (python-telegram-bot)
    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str | None = Field(None, alias="TELEGRAM_API_BASE_URL")
    telegram_webhook_url: str | None = Field(None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_webhook_listen: str = Field("0.0.0.0", alias="TELEGRAM_WEBHOOK_LISTEN")
    telegram_webhook_port: int = Field(8443, alias="TELEGRAM_WEBHOOK_PORT", gt=0, lt=65536)

    # Discord (discord.py)
    discord_bot_token: SecretStr | None = Field(None, alias="DISCORD_BOT_TOKEN")
    discord_api_base_url: str | None = Field(None, alias="DISCORD_API_BASE_URL")
    discord_gateway_url: str | None = Field(None, alias="DISCORD_GATEWAY_URL")
    discord_dev_guild: int | None = Field(None, alias="DISCORD_DEV_GUILD")

    # Edit throttle for streamed replies, per reply (seconds).
    edit_interval: float = Field(1.0, alias="TERTULIA_EDIT_INTERVAL", ge=0)
    # How long a reply's first words wait for more text (seconds): an answer complete by
    # then is one message, with no "typing" and no edits. 0 streams from the first piece.
    first_wait: float = Field(0.5, alias="TERTULIA_FIRST_WAIT", ge=0, le=5)

    # The dashboard (`tertulia dashboard`, the optional `make dashboard` extra). It refuses
    # to listen beyond this machine unless a password is set.
    dashboard_address: str = Field("127.0.0.1", alias="TERTULIA_DASHBOARD_ADDRESS", min_length=1)
    dashboard_port: int = Field(8501, alias="TERTULIA_DASHBOARD_PORT", gt=0, lt=65536)
    dashboard_password: SecretStr | None = Field(None, alias="TERTULIA_DASHBOARD_PASSWORD")

    @field_validator("*", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        # A choice is a word, not a spelling: TERTULIA_BACKEND=Gemini, TERTULIA_LOG_LEVEL=debug.
        # Every Literal setting, so one added later is case-insensitive too.
        if isinstance(value, str) and info.field_name:
            choices = _choices(cls.model_fields[info.field_name].annotation)
            return choices.get(value.strip().lower(), value)
        return value

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, value: str) -> str:
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        known = get_args(Backend)
        for name in names:
            if name not in known:
                raise ValueError(f"no backend called {name!r} (choose from {', '.join(known)})")
        if len(set(names)) < len(names):
            raise ValueError("a backend is named twice")
        return ",".join(names)

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: SecretStr | None) -> SecretStr | None:
        # BotFather's tokens are "<bot id>:<secret>"; anything else is refused at getMe.
        if value is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value.get_secret_value()):
            raise ValueError("not a bot token: expected <digits>:<letters, digits, _ or ->")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram only accepts these; anything else fails later, at setWebhook.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1-256 characters from A-Z, a-z, 0-9, _ and -")
        return value

    def chosen_backend(self) -> Backend:
        """The backend to use: the explicit setting, else the first one configured."""
        if self.backend:
            return self.backend
        if self.gemini_api_key:
            return "gemini"
        if self.openai_api_key or self.openai_base_url:
            return "openai"
        return "local"

    def fallback_backends(self) -> tuple[Backend, ...]:
        """The backends asked, in order, when the chosen one is down (TERTULIA_FALLBACK)."""
        known = {name.lower(): name for name in get_args(Backend)}
        return tuple(known[n] for n in self.fallback.split(",") if n)

    def _unusable(self, backend: str) -> str | None:
        """Why `backend` cannot be built from these settings, or None when it can."""
        if backend == "gemini" and not self.gemini_api_key:
            return "GEMINI_API_KEY is not set"
        if backend == "openai" and not (self.openai_api_key or self.openai_base_url):
            return "neither OPENAI_API_KEY nor OPENAI_BASE_URL is set"
        if backend == "local" and (path := self.local_model_file()) and not path.is_file():
            return f"no GGUF file at {path} (TERTULIA_LOCAL_MODEL)"
        return None

    def local_model_file(self) -> Path | None:
        """The file TERTULIA_LOCAL_MODEL names when it is a path; a model name is looked
        up (and an unknown one refused, naming the variable) by the local backend."""
        value = (self.local_model or "").strip()
        if "/" in value or "\\" in value or value.lower().endswith(".gguf"):
            return Path(value).expanduser()
        return None

    def backend_options(self, backend: str) -> dict[str, Any]:
        """The keyword arguments of a backend's constructor (bot.models.BACKENDS)."""
        common = {"max_output_tokens": self.max_output_tokens}
        remote = {
            "timeout": self.model_timeout,
            "retries": self.model_retries,
            "deadline": self.model_deadline,
            **common,
        }
        if backend == "gemini":
            key = self.gemini_api_key
            return {
                "api_key": key.get_secret_value() if key else "",
                "model": self.gemini_model,
                "base_url": self.gemini_base_url,
                **remote,
            }
        if backend == "openai":
            key = self.openai_api_key
            return {
                "api_key": key.get_secret_value() if key else None,
                "model": self.openai_model,
                "base_url": self.openai_base_url,
                **remote,
            }
        return {
            "model_path": self.local_model,
            "lora": self.local_lora,
            "context": self.local_context,
            "threads": self.local_threads,
            "max_output_tokens": min(self.max_output_tokens, self.local_context // 2),
        }

    def backend_variable(self, backend: str, option: str) -> str:
        """The variable behind `option` of backend_options(backend): ("gemini", "api_key")
        is GEMINI_API_KEY. For start-up errors about a value the server refused."""
        field = type(self).model_fields.get(f"{backend}_{option}")
        return field.alias if field and field.alias else "TERTULIA_BACKEND"

    def value_of(self, variable: str) -> Any:
        """The value of the setting read from environment variable `variable`."""
        for name, info in type(self).model_fields.items():
            if info.alias == variable:
                return getattr(self, name)
        raise KeyError(variable)

    def chosen_embedder(self) -> str | None:
        """The embedder to use, or None for recall by words only."""
        if self.embedder != "auto":
            return None if self.embedder == "none" else self.embedder
        if self.gemini_api_key:
            return "gemini"
        if self.openai_api_key and (not self.openai_base_url or self.openai_embedding_model):
            return "openai"
        return None

    def embedder_options(self, embedder: str) -> dict[str, Any]:
        """The keyword arguments of an embedder's constructor (bot.models.EMBEDDERS)."""
        if embedder == "gemini":
            key = self.gemini_api_key
            return {
                "api_key": key.get_secret_value() if key else "",
                "model": self.gemini_embedding_model,
                "base_url": self.gemini_base_url,
                "timeout": self.model_timeout,
                "retries": self.model_retries,
                "deadline": self.model_deadline,
            }
        if embedder == "openai":
            key = self.openai_api_key
            return {
                "api_key": key.get_secret_value() if key else None,
                "model": self.openai_embedding_model or "text-embedding-3-small",
                "base_url": self.openai_base_url,
                "timeout": self.model_timeout,
                "retries": self.model_retries,
                "deadline": self.model_deadline,
            }
        return {}

    def learns(self, backend: str) -> bool:
        """Whether the model writes facts and summaries in the background."""
        return self.learn == "on" or (self.learn == "auto" and backend != "local")

    def admin_ids(self) -> frozenset[str]:
        """Admins as `platform:user_id` strings (e.g. `telegram:42`)."""
        return frozenset(a.strip() for a in self.admins.split(",") if a.strip())

    def allowed(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The allow-lists: users and chats as `platform:id`, Discord server ids."""

        def split(items: str) -> frozenset[str]:
            return frozenset(a.strip() for a in items.split(",") if a.strip())

        return split(self.allowed_users), split(self.allowed_chats), split(self.allowed_guilds)

    def check_backend(self) -> None:
        """Fail when the chosen backend or persona lacks what it needs."""
        from config.personas import load_personas

        if self.default_persona not in load_personas():
            raise SettingsError(f"TERTULIA_PERSONA: no persona called {self.default_persona!r}")
        backend = self.chosen_backend()
        if backend == "gemini" and not self.gemini_api_key:
            raise SettingsError("GEMINI_API_KEY is required when TERTULIA_BACKEND=gemini")
        openai_set = self.openai_api_key or self.openai_base_url
        if backend == "openai" and not openai_set:
            raise SettingsError(
                "OPENAI_API_KEY or OPENAI_BASE_URL is required when TERTULIA_BACKEND=openai"
            )
        if backend == "local" and (path := self.local_model_file()) and not path.is_file():
            raise SettingsError(f"TERTULIA_LOCAL_MODEL: no GGUF file at {path}")
        if self.local_lora and not self.local_lora.is_file():
            raise SettingsError(f"TERTULIA_LOCAL_LORA: no adapter file at {self.local_lora}")
        for name in self.fallback_backends():
            problem = "it is the chosen backend" if name == backend else self._unusable(name)
            if problem:
                raise SettingsError(f"TERTULIA_FALLBACK: {name}: {problem}")
        if self.embedder == "gemini" and not self.gemini_api_key:
            raise SettingsError("GEMINI_API_KEY is required when TERTULIA_EMBEDDER=gemini")
        if self.embedder == "openai" and not openai_set:
            raise SettingsError(
                "OPENAI_API_KEY or OPENAI_BASE_URL is required when TERTULIA_EMBEDDER=openai"
            )


def check_env_file(env_file: str | Path) -> None:
    """A settings file named on purpose (`--env-file`) must exist; the default `.env` may not."""
    path = Path(env_file)
    if path == Path(".env"):  # the default: optional, every setting may come from the env
        return
    if not path.exists():
        raise SettingsError(f"--env-file {env_file}: no such file")
    if path.is_dir():
        raise SettingsError(f"--env-file {env_file}: a directory, not a settings file")


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read and validate settings, raising SettingsError with one line naming the variable."""
    try:
        settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except (UnicodeDecodeError, OSError) as exc:
        raise SettingsError(f"{env_file}: cannot read the settings file: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "settings"
        field = Settings.model_fields.get(name)
        variable = field.alias if field and field.alias else name
        raise SettingsError(f"{variable}: {err['msg']}") from None
    settings.check_backend()
    return settings
