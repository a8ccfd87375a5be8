"""Runs the real Telegram adapter in-process against the fake Bot API, for the adapter tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application

from adapters.telegram_bot import build_application, serve
from bot.engine import Engine
from config.settings import Settings
from tests.fakes.model import FakeModel
from tests.fakes.telegram_api import FakeTelegramAPI

GROUP = -100123
ANA, BEN = 11, 22


@dataclass
class Bot:
    api: FakeTelegramAPI
    model: FakeModel
    engine: Engine
    app: Application[Any, Any, Any, Any, Any, Any]

    def user_texts(self, call: int = -1) -> list[str]:
        """The user turns the model saw in one call."""
        return [turn.text for turn in self.model.calls[call][1] if turn.role == "user"]

    async def answered(self, chat_id: int, count: int = 1) -> list[str]:
        """Wait until `count` replies in `chat_id` exist and their last edit is complete."""
        await self.api.wait_for(lambda: len(self.api.bot_messages(chat_id)) >= count)
        await self.settled()
        return self.api.texts(chat_id)

    async def settled(self) -> None:
        """Wait until no update is queued or being handled (every reply fully delivered)."""
        quiet = 0
        for _ in range(500):
            busy = self.app.update_processor.current_concurrent_updates
            quiet = quiet + 1 if busy == 0 and self.app.update_queue.empty() else 0
            if quiet == 2:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the adapter is still busy")


StartBot = Callable[..., Any]


@asynccontextmanager
async def bot_starter(make_engine: Callable[..., Engine]) -> AsyncIterator[StartBot]:
    """`await start(model, engine_kwargs={}, **settings)`: the adapter polling a fake API."""
    async with AsyncExitStack() as stack:

        async def start(
            model: FakeModel | None = None, engine_kwargs: dict[str, Any] | None = None, **env: Any
        ) -> Bot:
            api = await stack.enter_async_context(FakeTelegramAPI())
            model = model or FakeModel("Hello! How can I help?")
            engine = make_engine(model, **(engine_kwargs or {}))
            values = {
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_BASE_URL": api.root,
                "TERTULIA_EDIT_INTERVAL": 0,
                **env,
            }
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
            stop = asyncio.Event()
            app = build_application(settings, engine)
            task = asyncio.create_task(serve(app, settings, stop))

            async def shutdown() -> None:
                stop.set()
                await asyncio.wait_for(task, 10)

            stack.push_async_callback(shutdown)
            ready = "setWebhook" if "TELEGRAM_WEBHOOK_URL" in env else "getUpdates"
            await api.wait_for(lambda: api.calls_of(ready) or task.done())
            if task.done():
                task.result()  # start-up failed: show why
            return Bot(api, model, engine, app)

        yield start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call_order(bot: Bot, chat_id: int) -> list[str]:
    return [m for m, p in bot.api.calls if p.get("chat_id") == chat_id]
