"""Logging for the entry points: one stderr handler whose lines never carry a configured secret."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TextIO
from urllib.parse import quote, quote_plus

from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

from config.settings import Settings

log = logging.getLogger(__name__)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# TERTULIA_LOG_FORMAT=json: these four keys on every line (an ISO 8601 UTC "time"), then any
# `extra` fields of the record, such as the per-reply line's (adapters/observe.py).
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_NAMES = {"levelname": "level", "name": "logger"}
# Set by `tertulia run` for its children: the operator has been warned once already.
ENV_FILE_CHECKED = "TERTULIA_ENV_FILE_CHECKED"
# Shorter values would mask ordinary words ("x", "none" as an Ollama key): not searched for.
MIN_SECRET = 4
# Credentials of a known shape, configured or not (another bot's token in a URL, a key a
# library read from its own environment variable). A Telegram token inside a Bot API URL
# is `bot<digits>:<secret>`; `%3A` is its colon URL-encoded.
SHAPES = re.compile(
    r"(?<!\d)\d{5,}(?::|%3A)[A-Za-z0-9_-]{30,}"  # Telegram bot token
    r"|(?<![\w-])[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,38}"  # Discord
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|(?<![\w-])sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style key
)


def secrets_of(settings: Settings) -> dict[str, str]:
    """Every secret setting that is set, by its environment variable's name."""
    found = {}
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found[info.alias or name.upper()] = value.get_secret_value()
    return found


def written_forms(value: str) -> set[str]:
    """How a secret may be written into a log line: as is, URL-encoded, escaped in a repr."""
    return {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        repr(value)[1:-1],
    }


class Redactor:
    """Replaces configured secrets (every written form) and credential shapes in text."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        forms = {
            form: f"<{name}>"
            for name, value in secrets.items()
            if len(value) >= MIN_SECRET
            for form in written_forms(value)
        }
        # Longest first: an encoded form may contain a shorter secret.
        self._forms = sorted(forms.items(), key=lambda kv: -len(kv[0]))

    def __call__(self, text: str) -> str:
        for form, mask in self._forms:
            if form in text:
                text = text.replace(form, mask)
        return SHAPES.sub("<credential>", text)


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line: message, arguments, traceback and stack alike."""

    def __init__(self, redact: Redactor, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per record, redacted as a whole: a secret's JSON-escaped form is one
    of the forms the redactor looks for, and its masks need no escaping, so the line stays
    valid JSON."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(JSON_FIELDS, rename_fields=JSON_NAMES, timestamp="time")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def formatter(redact: Redactor, log_format: str = "text") -> logging.Formatter:
    """The formatter of TERTULIA_LOG_FORMAT (`text` or `json`), masking every secret."""
    return RedactingJsonFormatter(redact) if log_format == "json" else RedactingFormatter(redact)


def handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) that writes no secret of `settings`."""
    return _handler(Redactor(secrets_of(settings)), stream or sys.stderr, settings.log_format)


def configure(settings: Settings) -> None:
    """The entry point's logging: the root logger, so every library's records pass through.

    Uncaught exceptions (printed by Python, not logged) are masked the same way.
    """
    redact = Redactor(secrets_of(settings))
    installed = _handler(redact, sys.stderr, settings.log_format)
    logging.basicConfig(level=settings.log_level, handlers=[installed])
    if installed in logging.getLogger().handlers:  # not when logging was set up already
        sys.excepthook = _redacted_excepthook(redact)


def _handler(redact: Redactor, stream: TextIO, log_format: str = "text") -> logging.Handler:
    out = logging.StreamHandler(stream)
    out.setFormatter(formatter(redact, log_format))
    return out


def _redacted_excepthook(
    redact: Redactor,
) -> Callable[[type[BaseException], BaseException, TracebackType | None], None]:
    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, exc, tb))))

    return hook


def warn_if_exposed(env_file: str | Path) -> None:
    """One warning when the settings file (tokens, keys) can be read by other users."""
    if os.environ.get(ENV_FILE_CHECKED):
        return
    try:
        mode = Path(env_file).stat().st_mode
    except OSError:
        return  # no file: settings come from the environment alone
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "%s can be read by other users of this machine and holds secrets: chmod 600 %s",
            env_file,
            env_file,
        )
