"""Runs the real Discord adapter in-process against the fake Discord, the engine faked at its port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import yarl

from adapters.delivery import Policy
from adapters.discord.app import client, redirect
from adapters.discord.client import TertuliaDiscord
from adapters.session import Conversations, Session
from bot.commands import REGISTRY
from bot.types import ConversationKey, IncomingMessage
from config.settings import Settings
from tests.fakes.discord_api import TOKEN, FakeDiscord, FakeInteraction, FakeMessage


def discord_settings(fake: FakeDiscord, tmp_path: Path, **extra: Any) -> Settings:
    env: dict[str, Any] = {
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "TERTULIA_DB": str(tmp_path / "t.db"),
        "TERTULIA_EDIT_INTERVAL": 0.05,
        "TERTULIA_FIRST_WAIT": 0,  # stream from the first piece; the hold has its own tests
    }
    env.update(extra)
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def session_for(engine: Conversations, settings: Settings, deadline: float = 5.0) -> Session:
    policy = Policy(
        interval=settings.edit_interval, deadline=deadline, first_wait=settings.first_wait
    )
    return Session(engine, policy, grace=2.0)


@asynccontextmanager
async def running_bot(
    session: Session, settings: Settings, **options: Any
) -> AsyncIterator[TertuliaDiscord]:
    """The adapter connected where `settings` say, and ready; closed (discord.py restored) on exit."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    redirect(settings)
    bot = client(
        settings,
        session,
        list(REGISTRY.values()),
        guild_ready_timeout=0.01,
        reidentify_delay=0.01,
        **options,
    )
    try:
        async with bot:
            task = asyncio.create_task(bot.start(TOKEN))
            try:
                await asyncio.wait_for(bot.wait_until_ready(), 5)
                yield bot
            finally:
                await bot.close()
                await task
    finally:
        discord.http.Route.BASE = saved[0]
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(str(saved[1]))


@asynccontextmanager
async def adapter(
    engine: Conversations, fake: FakeDiscord, tmp_path: Path, **env: Any
) -> AsyncIterator[TertuliaDiscord]:
    """running_bot() for `engine` with the test settings (and `env` on top of them)."""
    settings = discord_settings(fake, tmp_path, **env)
    async with running_bot(session_for(engine, settings), settings) as bot:
        yield bot


def key(user: int, chat: int) -> ConversationKey:
    """The conversation key of `user` in Discord channel `chat`."""
    return ConversationKey("discord", str(user), str(chat))


def echo(msg: IncomingMessage) -> str:
    """A script naming what the engine was handed: a command's name, or the text."""
    return f"re: /{msg.command.name}" if msg.command else f"re: {msg.text}"


def reply_to(fake: FakeDiscord, message_id: int) -> Callable[[], FakeMessage | None]:
    """The bot's message quoting `message_id`, once there is one."""
    return lambda: next((m for m in fake.bot_messages() if m.reply_to == message_id), None)


def answered(fake: FakeDiscord, inter: FakeInteraction) -> Callable[[], FakeMessage | None]:
    """The interaction's original response once the bot has edited it past "thinking"."""

    def check() -> FakeMessage | None:
        msg = fake.messages.get(inter.original_id or 0)
        return msg if msg is not None and len(msg.history) > 1 else None

    return check


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Poll `predicate` for what the fake cannot see (the session's own state)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)
