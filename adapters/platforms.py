"""The platforms tertulia runs on, looked up by name: adding one is its package plus one line."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from config.settings import Settings

# A start-up error (a bad setting or a refused token): restarting cannot fix it.
CONFIG_ERROR = 2


@dataclass(frozen=True, slots=True)
class Platform:
    """Where a platform's process starts (`module.main(settings) -> exit code`) and its token."""

    module: str
    token: str  # the setting that turns it on, e.g. TELEGRAM_BOT_TOKEN
    help: str


PLATFORMS: dict[str, Platform] = {
    "telegram": Platform("adapters.telegram.app", "TELEGRAM_BOT_TOKEN", "the Telegram bot"),
    "discord": Platform("adapters.discord.app", "DISCORD_BOT_TOKEN", "the Discord bot"),
}


def configured(settings: Settings) -> list[str]:
    """The platforms whose token is set, in start order."""
    return [name for name, p in PLATFORMS.items() if settings.value_of(p.token)]


def main(name: str, settings: Settings) -> int:
    """Run one platform's process until it stops; its exit code."""
    module = importlib.import_module(PLATFORMS[name].module)
    code: int = module.main(settings)
    return code
