"""Shared fixtures: a real SQLite file per test, an engine on a scripted model."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine
from config.personas import load_personas
from storage.memory import SqliteMemory
from tests.fakes.model import FakeModel

# Tests talk to fake servers on 127.0.0.1 only; a proxy in the environment must not interfere.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(var, None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tertulia.db"


@pytest.fixture
async def memory(db_path: Path) -> AsyncIterator[SqliteMemory]:
    async with SqliteMemory(db_path) as mem:
        yield mem


@pytest.fixture
def make_engine(memory: SqliteMemory) -> Callable[..., Engine]:
    """`make_engine(model=None, **engine_kwargs)`: an Engine on this test's SQLite file."""

    def make(model: Any = None, **kwargs: Any) -> Engine:
        return Engine(memory, model or FakeModel(), personas=load_personas(), **kwargs)

    return make


async def collect(engine: Engine, msg: Any) -> str:
    """The whole reply to one message, as the user would read it."""
    return "".join([piece async for piece in engine.reply(msg)])
