"""What every dashboard page shares: the settings, the language, the reader and the playground."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import datetime

import streamlit as st

from adapters.dashboard.host import Playground
from adapters.dashboard.text import LANGS, t
from config.settings import Settings, SettingsError, load_settings
from storage.sqlite.insights import Insights, Unavailable
from storage.sqlite.processes import name_this_process

LANG_KEY = "dashboard_lang"


def env_file() -> str:
    """The settings file `tertulia dashboard` was started with (after `--` on the command)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env-file", default=".env")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return str(known.env_file)


def settings() -> Settings:
    """The settings, read on each run (a few ms); a bad one stops the page with its line."""
    try:
        return load_settings(env_file())
    except SettingsError as exc:
        st.error(str(exc))
        st.stop()


def lang() -> str:
    """The operator's language: chosen in the sidebar, else TERTULIA_LANG."""
    chosen = st.session_state.get(LANG_KEY)
    return chosen if chosen in LANGS else settings().default_lang


def tr(key: str, **kw: object) -> str:
    """The catalog string `key` in the operator's language."""
    return t(key, lang(), **kw)


def reader() -> Insights | None:
    """The read-only reader of the bot's database, or None (said on the page) if it can't be."""
    found = Insights(settings().db)
    try:
        found.check()
    except Unavailable as exc:
        st.info(tr("no_database", reason=str(exc)))
        return None
    return found


def when(at: float | None) -> str:
    """A stored Unix time as the operator reads it (local time, to the minute)."""
    return "" if at is None else datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def rating_mark(rating: int | None, reason: str | None = None) -> str:
    """👍, 👎 with its reason, or nothing."""
    if rating is None:
        return ""
    return "👍" if rating > 0 else "👎" + (f" {reason}" if reason else "")


def _release(playground: Playground) -> None:
    playground.close()


@st.cache_resource(show_spinner=False, on_release=_release)
def _playground(fingerprint: str, _settings: Settings) -> Playground:
    name_this_process("dashboard")  # `tertulia status` lists the playground's store as such
    return Playground(_settings)


def playground() -> Playground:
    """The server process's one playground for these settings, opened on first use."""
    current = settings()
    # A new runtime when any setting changes (secrets are masked in the dump).
    fingerprint = hashlib.sha256(current.model_dump_json().encode()).hexdigest()
    return _playground(fingerprint, current)
