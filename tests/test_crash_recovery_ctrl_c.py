"""Ctrl-C while the person's turn is being written: stored interrupted, never left pending."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from functools import partial
from pathlib import Path

from adapters.console import ConsoleSurface, console_message
from adapters.console_keys import CtrlC
from adapters.delivery import Policy
from adapters.runtime import personas
from adapters.session import Session
from bot.engine import Engine
from storage.sqlite import SqliteStore
from tests.fakes.model import FakeModel
from tests.test_crash_recovery_telegram import chat_turns


async def test_ctrl_c_while_the_turn_is_written_settles_it_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    keys = CtrlC()
    async with SqliteStore(db) as store:
        session = Session(Engine(store, FakeModel("fine"), personas=personas()), Policy(0))

        async def say(line: str) -> bool:
            msg = console_message(line, "ann", "en")
            surface = ConsoleSurface(io.StringIO(), tmp_path, partial(session.engine.language, msg))
            return await keys.run(session.handle(msg, surface))

        # Known already, in an open conversation: the turn's own row is the only write.
        assert not await say("hello")
        # Another process holds the file's write lock: the turn's INSERT waits for it.
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            asking = asyncio.create_task(say("stopped while stored"))
            await asyncio.sleep(0.5)
            keys.press()  # Ctrl-C now: the INSERT is under way in the worker thread
            await asyncio.sleep(0.3)
        finally:
            other.execute("COMMIT")
            other.close()
        assert await asking  # stopped
    assert chat_turns(db) == {"hello": (1, "ok"), "stopped while stored": (3, "interrupted")}
