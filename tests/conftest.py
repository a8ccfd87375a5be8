"""Shared fixtures: a real SQLite file per test, an engine on a scripted model, message helpers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.runtime import personas
from bot.commands import parse_command
from bot.engine import Engine
from bot.types import ConversationKey, Done, IncomingMessage, ReplyEvent
from storage.sqlite import SqliteStore
from tests.fakes.model import FakeModel

# Tests talk to fake servers on 127.0.0.1 only; a proxy in the environment must not interfere.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(var, None)

MakeEngine = Callable[..., Engine]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tertulia.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(db_path) as opened:
        yield opened


@pytest.fixture
def make_engine(store: SqliteStore) -> MakeEngine:
    """`make_engine(model=None, **engine_kwargs)`: an Engine on this test's SQLite file."""

    def make(model: Any = None, **kwargs: Any) -> Engine:
        return Engine(store, model or FakeModel(), personas=personas(), **kwargs)

    return make


def msg(
    text: str = "", user: str = "u1", chat: str = "c1", platform: str = "test", **kw: Any
) -> IncomingMessage:
    """An incoming message from `user` in `chat`."""
    return IncomingMessage(ConversationKey(platform, user, chat), text, **kw)


def readable(events: list[ReplyEvent]) -> str:
    """The reply as a person reads it: the text, then the notice of the final Done."""
    text = "".join(e for e in events if isinstance(e, str))
    done = [e for e in events if isinstance(e, Done)]
    if done and done[-1].notice:
        text += ("\n\n" if text.strip() else "") + done[-1].notice
    return text


async def events(engine: Engine, message: IncomingMessage) -> list[ReplyEvent]:
    """Every event of the answer to one message."""
    return [event async for event in engine.reply(message)]


async def collect(engine: Engine, message: IncomingMessage) -> str:
    """The whole reply to one message, as the person would read it."""
    return readable(await events(engine, message))


def command(text: str, **kw: Any) -> IncomingMessage:
    """A command as a platform with text commands (Telegram, the terminal) converts it."""
    call = parse_command(text)
    assert call is not None, text
    return msg(text, command=call, **kw)
