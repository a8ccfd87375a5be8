"""The Discord process: connect, answer until SIGTERM, drain the replies in flight, exit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
import yarl

from adapters import recovery, runtime
from adapters.discord import convert
from adapters.discord import recovery as discord_recovery
from adapters.discord.client import TertuliaDiscord
from adapters.session import Session
from bot.commands import Command
from config.settings import Settings

log = logging.getLogger(__name__)


def redirect(settings: Settings) -> None:
    """Point discord.py at a REST and gateway proxy (or a test fake) when configured."""
    if base := settings.discord_api_base_url:
        discord.http.Route.BASE = convert.api_base(base)
    if gateway := settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


def client(
    settings: Settings, session: Session, commands: Sequence[Command], **options: Any
) -> TertuliaDiscord:
    """A client handing messages to `session`, offering `commands`; not yet started."""
    return TertuliaDiscord(session, commands, dev_guild=settings.discord_dev_guild, **options)


async def run(rt: runtime.Runtime, stop: asyncio.Event) -> int:
    """Run the bot until `stop` is set; 0 on a clean stop, 2 for a refused token or intent."""
    tell = recovery.background_for(rt, convert.PLATFORM, discord_recovery.surface)
    return await serve(rt.settings, rt.session, rt.engine.commands(), stop, background=tell)


async def serve(
    settings: Settings,
    session: Session,
    commands: Sequence[Command],
    stop: asyncio.Event,
    *,
    background: Callable[[discord.Client], Awaitable[None]] | None = None,
) -> int:
    """The Discord process's life: connect, answer, drain on `stop`; its exit code.

    `background(client)` (crash recovery's notes) runs once the client is ready, until stop.
    """
    if settings.discord_bot_token is None:
        log.error("DISCORD_BOT_TOKEN is not set")
        return runtime.CONFIG_ERROR
    redirect(settings)
    async with client(settings, session, commands) as bot:
        running = asyncio.create_task(bot.start(settings.discord_bot_token.get_secret_value()))
        stopping = asyncio.create_task(stop.wait())
        chores = asyncio.create_task(_when_ready(bot, background)) if background else None
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if chores is not None:
            chores.cancel()
            await asyncio.gather(chores, return_exceptions=True)
        if not running.done():
            await session.drain()  # the gateway stays up: replies need it to finish
        await bot.close()
        try:
            await running
        # A bad setting exits 2: the supervisor then stops instead of restarting forever.
        except discord.LoginFailure:
            log.error("Discord rejected DISCORD_BOT_TOKEN: check the bot token")
            return runtime.CONFIG_ERROR
        except discord.PrivilegedIntentsRequired:
            log.error(
                "Discord refused the message-content intent: enable Message Content Intent"
                " for this bot in the developer portal"
            )
            return runtime.CONFIG_ERROR
        except Exception:
            log.exception("discord client stopped with an error")
            return 1
        if not stop.is_set():
            log.error("discord client stopped unexpectedly")
            return 1
    log.info("discord adapter stopped")
    return 0


async def _when_ready(
    bot: discord.Client, work: Callable[[discord.Client], Awaitable[None]]
) -> None:
    await bot.wait_until_ready()
    await work(bot)


def main(settings: Settings) -> int:
    """`tertulia discord`: run until SIGINT/SIGTERM."""
    return runtime.run_platform(settings, run)
