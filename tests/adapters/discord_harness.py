"""Runs the real Discord adapter in-process against the fake Discord, for the adapter tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import yarl

from adapters.discord_bot import TertuliaDiscord, redirect
from bot.engine import Engine
from bot.types import Turn
from config.settings import Settings
from tests.fakes.discord_api import TOKEN, FakeDiscord
from tests.fakes.model import FakeModel


def discord_settings(fake: FakeDiscord, tmp_path: Path, **extra: Any) -> Settings:
    env: dict[str, Any] = {
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "TERTULIA_DB": str(tmp_path / "t.db"),
        "TERTULIA_EDIT_INTERVAL": 0.05,
    }
    env.update(extra)
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


@asynccontextmanager
async def running_bot(engine: Engine, settings: Settings) -> AsyncIterator[TertuliaDiscord]:
    """The adapter connected where `settings` say, and ready; closed (discord.py restored) on exit."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    redirect(settings)
    client = TertuliaDiscord(engine, settings, guild_ready_timeout=0.01, reidentify_delay=0.01)
    try:
        async with client:
            task = asyncio.create_task(client.start(TOKEN))
            try:
                await asyncio.wait_for(client.wait_until_ready(), 5)
                yield client
            finally:
                await client.close()
                await task
    finally:
        discord.http.Route.BASE = saved[0]
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(str(saved[1]))


class GatedModel(FakeModel):
    """Yields `first`, then waits for `gate` before yielding `rest`: a stream caught mid-way."""

    def __init__(self, first: str, rest: str) -> None:
        super().__init__(first + rest)
        self.first, self.rest = first, rest
        self.gate = asyncio.Event()

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncIterator[str]:
        self.calls.append((system, list(turns)))
        yield self.first
        await self.gate.wait()
        yield self.rest
