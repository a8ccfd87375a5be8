"""The `tertulia` command: chat, run, telegram and discord."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.models import ModelError
from config.settings import Settings, SettingsError, load_settings
from storage.memory import StorageError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tertulia",
        description="An AI chatbot for Telegram, Discord and the terminal, with per-user memory.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file to read (default: .env)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("chat", help="chat in this terminal (also reads messages from a pipe)")
    sub.add_parser(
        "run",
        help="start one process per configured platform (the terminal chat if none is)",
    )
    sub.add_parser("telegram", help="run the Telegram adapter (needs TELEGRAM_BOT_TOKEN)")
    sub.add_parser("discord", help="run the Discord adapter (needs DISCORD_BOT_TOKEN)")
    return parser


def _require(settings: Settings, variable: str, value: object) -> None:
    if not value:
        raise SettingsError(f"{variable} is not set")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings(args.env_file)
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if command == "chat":
            from adapters import console

            return console.main(settings)
        if command == "telegram":
            _require(settings, "TELEGRAM_BOT_TOKEN", settings.telegram_bot_token)
            from adapters import telegram_bot

            return telegram_bot.main(settings)
        if command == "discord":
            _require(settings, "DISCORD_BOT_TOKEN", settings.discord_bot_token)
            from adapters import discord_bot

            return discord_bot.main(settings)
        from adapters import supervisor

        platforms = supervisor.configured_platforms(settings)
        if not platforms:
            from adapters import console

            return console.main(settings, say_how_to_connect=True)
        return supervisor.main(platforms, args.env_file)
    except (SettingsError, ModelError, StorageError) as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
