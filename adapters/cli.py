"""The `tertulia` command: chat, run, telegram, discord, dashboard and dataset export."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from adapters import dataset, platforms
from bot.ports import ModelError, StorageError
from config.settings import SettingsError, load_settings

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
    for name, platform in platforms.PLATFORMS.items():
        sub.add_parser(name, help=f"run {platform.help} alone (needs {platform.token})")
    sub.add_parser(
        "dashboard",
        help="the web dashboard on TERTULIA_DASHBOARD_ADDRESS:PORT (needs `make dashboard`)",
    )
    dataset.add_parser(sub)
    return parser


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
        if command == "dataset":
            return dataset.main(args, settings)
        if command == "chat":
            from adapters import console

            return console.main(settings)
        if command == "dashboard":
            from adapters.dashboard import launch

            return launch.main(settings, args.env_file)
        if command in platforms.PLATFORMS:
            token = platforms.PLATFORMS[command].token
            if not settings.value_of(token):
                raise SettingsError(f"{token} is not set")
            return platforms.main(command, settings)
        configured = platforms.configured(settings)
        if not configured:
            from adapters import console

            return console.main(settings, say_how_to_connect=True)
        from adapters import supervisor

        return supervisor.main(configured, args.env_file)
    except (SettingsError, ModelError, StorageError) as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return platforms.CONFIG_ERROR


if __name__ == "__main__":
    sys.exit(main())
