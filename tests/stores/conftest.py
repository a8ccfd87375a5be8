"""Fixtures for the store tests: every store on a fresh real database, and the SQLite one."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from bot.ports import MemoryStore
from bot.types import ConversationKey, Ingested, TurnKind
from storage.sqlite import SqliteStore

# Every store the contract suite runs against: a new store is one line here, given a
# fresh directory of its own (a server-backed store would make a fresh database instead).
STORES: dict[str, Callable[[Path], MemoryStore]] = {
    "sqlite": lambda directory: SqliteStore(directory / "tertulia.db"),
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tertulia.db"


@pytest.fixture(params=list(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MemoryStore]:
    opened = STORES[request.param](tmp_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sqlite(db_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(db_path) as opened:
        yield opened


def key(user: str = "ann", chat: str = "c1", platform: str = "test") -> ConversationKey:
    return ConversationKey(platform, user, chat)


async def said(
    store: MemoryStore,
    text: str,
    user: str = "ann",
    chat: str = "c1",
    *,
    message_id: str | None = None,
    kind: TurnKind = TurnKind.CHAT,
    tokens: int = 1,
    platform: str = "test",
) -> Ingested:
    """`user` said `text` in `chat`: the stored turn, which must not be a repeat."""
    ingested = await store.ingest(
        key(user, chat, platform),
        display_name=user.title(),
        platform_message_id=message_id,
        text=text,
        kind=kind,
        tokens=tokens,
    )
    assert ingested is not None
    return ingested


class World(Protocol):
    """A property test's model of the store: runs operations, checks every read."""

    async def run(self, op: Any) -> None: ...

    async def check(self) -> None: ...


async def play(name: str, world: Callable[[MemoryStore], World], ops: Sequence[Any]) -> None:
    """Run `ops` on a fresh store `name` and its model side by side, checking after each.

    A fresh store per hypothesis example: hypothesis drives tests synchronously, and a
    function-scoped fixture would be shared across examples.
    """
    with tempfile.TemporaryDirectory() as directory:
        store = STORES[name](Path(directory))
        await store.open()
        try:
            model = world(store)
            for op in ops:
                await model.run(op)
                await model.check()
        finally:
            await store.close()
