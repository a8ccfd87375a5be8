"""The `tertulia` command: chat, run, telegram, discord, dashboard, dataset export, tune,
backup, restore and status."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from adapters import backup, dataset, logs, platforms, tune
from bot.ports import ModelError, StorageError
from config.settings import SettingsError, check_env_file, load_settings

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
    tune.add_parser(sub)
    backup.add_parsers(sub)
    sub.add_parser(
        "status", help="the database's size and figures, and which tertulia processes run on it"
    )
    return parser


def _name_process(name: str) -> None:
    """What this process's heartbeats call it (the store writes them; `tertulia status`)."""
    from storage.sqlite.processes import name_this_process

    name_this_process(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    try:
        check_env_file(args.env_file)
        settings = load_settings(args.env_file)
        # Every record, the libraries' too, passes one handler that masks the secrets.
        logs.configure(settings)
        logs.warn_if_exposed(args.env_file)
        if command == "dataset":
            return dataset.main(args, settings)
        if command == "tune":
            return tune.main(args, settings)
        if command in ("backup", "restore"):
            return backup.main(args, settings)
        if command == "status":
            from adapters import status

            return status.main(settings)
        if command == "chat":
            from adapters import console

            _name_process("chat")
            return console.main(settings)
        if command == "dashboard":
            from adapters.dashboard import launch

            return launch.main(settings, args.env_file)
        if command in platforms.PLATFORMS:
            token = platforms.PLATFORMS[command].token
            if not settings.value_of(token):
                raise SettingsError(f"{token} is not set")
            _name_process(command)
            from adapters import metrics

            return platforms.main(command, metrics.for_platform(settings, command))
        configured = platforms.configured(settings)
        if not configured:
            from adapters import console

            _name_process("chat")
            return console.main(settings, say_how_to_connect=True)
        from adapters import supervisor

        return supervisor.main(configured, args.env_file)
    except (SettingsError, ModelError, StorageError) as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return platforms.CONFIG_ERROR


if __name__ == "__main__":
    sys.exit(main())
