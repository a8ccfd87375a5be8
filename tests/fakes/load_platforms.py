"""The platforms a load run drives: one fake per adapter process, seen the same way.

A person's chat is their private chat (Telegram) or their DM channel (Discord), so "the
chat" and "the person" are one number for the audit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from tests.fakes.discord_api import TOKEN, FakeDiscord, FakeMessage
from tests.fakes.telegram_api import BotMessage, FakeTelegramAPI

# Called with (person, text) whenever the bot sends or edits a message in a person's chat.
Shown = Callable[[int, str], None]


class LoadPlatform(Protocol):
    """What the load harness needs of a fake platform."""

    name: str  # the adapter's command and the store's platform name
    on_text: Shown | None

    def env(self) -> dict[str, str]: ...

    async def connected(self, seconds: float) -> None:
        """Wait until a message pushed now would reach the adapter."""
        ...

    def push(self, person: int, text: str) -> None: ...

    def shown(self) -> dict[int, list[str]]:
        """Every person's chat: the bot's messages as they ended up, in the order sent."""
        ...


class TelegramLoad:
    """A bot on the fake Bot API; process k's has its own token."""

    name = "telegram"

    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api
        self.on_text: Shown | None = None
        api.on_message = self._message

    def env(self) -> dict[str, str]:
        return {"TELEGRAM_BOT_TOKEN": self.api.token, "TELEGRAM_API_BASE_URL": self.api.root}

    async def connected(self, seconds: float) -> None:
        pass  # updates wait in the fake until the bot's getUpdates takes them

    def push(self, person: int, text: str) -> None:
        self.api.push_text(person, person, text, language_code="es")

    def shown(self) -> dict[int, list[str]]:
        return {chat: [m.text for m in msgs] for chat, msgs in self.api.messages.items()}

    def _message(self, msg: BotMessage) -> None:
        if self.on_text is not None:
            self.on_text(msg.chat_id, msg.text)


class DiscordLoad:
    """The bot on the fake Discord gateway and REST API; people write to it in DMs."""

    name = "discord"
    DM = 5000  # the fake's DM channel for user u is DM + u

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.on_text: Shown | None = None
        self._pushing: set[asyncio.Task[Any]] = set()
        fake.on_content = self._content

    def env(self) -> dict[str, str]:
        return {
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_BASE_URL": self.fake.api_base,
            "DISCORD_GATEWAY_URL": self.fake.gateway_url,
        }

    async def connected(self, seconds: float) -> None:
        # Events go out on the gateway socket only: none is kept for a bot not yet there.
        await self.fake.wait_ready(timeout=seconds)

    def push(self, person: int, text: str) -> None:
        # A gateway event is sent, so awaited: from a callback it goes in a task we keep.
        task = asyncio.get_running_loop().create_task(self.fake.dm(person, text))
        self._pushing.add(task)
        task.add_done_callback(self._pushing.discard)

    def shown(self) -> dict[int, list[str]]:
        chats: dict[int, list[str]] = {}
        for msg in self.fake.bot_messages():  # in the order they were created
            chats.setdefault(msg.channel_id - self.DM, []).append(msg.content)
        return chats

    def _content(self, msg: FakeMessage) -> None:
        if self.on_text is not None and msg.author_id == self.fake.bot_id:
            self.on_text(msg.channel_id - self.DM, msg.content)
