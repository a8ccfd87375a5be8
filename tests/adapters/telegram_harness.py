"""Runs the real Telegram adapter in-process against the fake Bot API, the engine faked at its port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.delivery import Policy
from adapters.session import Conversations, Session
from adapters.telegram import app as telegram
from bot.commands import REGISTRY
from config.settings import Settings
from tests.fakes.engine import ScriptedEngine
from tests.fakes.telegram_api import FakeTelegramAPI

GROUP = -100123
ANA, BEN = 11, 22


@dataclass
class Bot:
    api: FakeTelegramAPI
    engine: Any  # a ScriptedEngine, or a real Engine for end-to-end tests
    session: Session

    async def answered(self, chat_id: int, count: int = 1) -> list[str]:
        """Wait until `count` replies in `chat_id` exist and every reply is fully delivered."""
        await self.api.wait_for(lambda: len(self.api.bot_messages(chat_id)) >= count)
        await self.settled()
        return self.api.texts(chat_id)

    async def settled(self) -> None:
        """Wait until every pushed update was fetched and no reply is in flight."""
        quiet = 0
        for _ in range(500):
            idle = self.session.busy == 0 and self.api.unfetched() == 0
            quiet = quiet + 1 if idle else 0
            if quiet == 3:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the adapter is still busy")

    async def busy_with(self, count: int) -> None:
        """Wait until `count` messages are inside the session (answered or in line)."""
        for _ in range(500):
            if self.session.busy >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{self.session.busy} messages in the session, not {count}")


class StartBot(Protocol):
    """`await start(engine=None, policy=None, **settings)`: the adapter polling a fake API."""

    def __call__(
        self, engine: Conversations | None = None, policy: Policy | None = None, **env: Any
    ) -> Awaitable[Bot]: ...


def settings_for(api: FakeTelegramAPI, **env: Any) -> Settings:
    values = {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.root,
        "TERTULIA_EDIT_INTERVAL": 0,
        "TERTULIA_FIRST_WAIT": 0,  # stream from the first piece; the hold has its own tests
        **env,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def bot_starter() -> AsyncIterator[StartBot]:
    """Starts bots (each on its own fake API) and stops them all on exit.

    Without `policy`, delivery uses the edit interval from the settings and a 5 s deadline.
    """
    async with AsyncExitStack() as stack:

        async def start(
            engine: Conversations | None = None, policy: Policy | None = None, **env: Any
        ) -> Bot:
            api = await stack.enter_async_context(FakeTelegramAPI())
            engine = engine or ScriptedEngine("Hello! How can I help?")
            settings = settings_for(api, **env)
            policy = policy or Policy(
                interval=settings.edit_interval, deadline=5.0, first_wait=settings.first_wait
            )
            session = Session(engine, policy, grace=2.0)
            stop, ready = asyncio.Event(), asyncio.Event()
            commands = list(REGISTRY.values())
            task = asyncio.create_task(
                telegram.serve(settings, session, commands, stop, ready=ready)
            )

            async def shutdown() -> None:
                stop.set()
                await asyncio.wait_for(task, 10)

            stack.push_async_callback(shutdown)
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if task.done():
                task.result()  # start-up failed: show why
            return Bot(api, engine, session)

        yield start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call_order(bot: Bot, chat_id: int) -> list[str]:
    """The Bot API methods called for `chat_id`, in the order they arrived."""
    return [m for m, p in bot.api.calls if p.get("chat_id") == chat_id]
