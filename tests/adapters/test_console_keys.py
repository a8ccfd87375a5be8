"""Ctrl-C in the terminal chat: the first stops the answer (stored interrupted), a second leaves."""

from __future__ import annotations

import asyncio
import io
import queue
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from adapters.console import chat
from adapters.console_keys import CtrlC
from adapters.console_text import RECORD_END
from adapters.delivery import Policy
from adapters.runtime import personas
from adapters.session import Session
from bot.engine import Engine
from bot.i18n import t
from storage.sqlite import SqliteStore
from tests.fakes.model import FakeModel

LONG = "".join(f"word{n} " for n in range(400))  # 2.8 s at one piece per 10 ms
STOPPED = t("console_stopped", "en") + "\n"


class Hand:
    """Presses Ctrl-C on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.keys = CtrlC(clock=lambda: self.now)

    def press(self, after: float = 0.0) -> None:
        self.now += after
        self.keys.press()


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    model = FakeModel(LONG, chunk=7, delay=0.01)
    async with SqliteStore(tmp_path / "tertulia.db") as store:
        yield Session(Engine(store, model, personas=personas()), Policy(interval=0))


def replies(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as raw:
        return raw.execute(
            "SELECT text, outcome FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()


def prompts(db: Path) -> list[str]:
    with sqlite3.connect(db) as raw:
        rows = raw.execute("SELECT text FROM messages WHERE role = 'user' ORDER BY id")
        return [text for (text,) in rows]


class Screen(io.StringIO):
    """stdout that wakes a test waiting for something to show."""

    def __init__(self) -> None:
        super().__init__()
        self._wrote = asyncio.Event()

    def write(self, text: str) -> int:
        self._wrote.set()
        return super().write(text)

    async def shows(self, check: Callable[[str], bool]) -> None:
        async with asyncio.timeout(10):
            while not check(self.getvalue()):
                self._wrote.clear()
                await self._wrote.wait()


class Keyboard(io.StringIO):
    """stdin that waits for each line to be typed, like a person."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def type(self, text: str) -> None:
        self._lines.put(text)

    # typeshed's own StringIO.readline ignores the same clash with the bytes IOBase.
    def readline(self, size: int = -1, /) -> str:  # type: ignore[override]
        return self._lines.get()


async def test_the_first_ctrl_c_stops_the_answer_and_the_chat_goes_on(
    session: Session, tmp_path: Path
) -> None:
    hand, out, err = Hand(), Screen(), io.StringIO()
    lines = io.StringIO("hola\nadiós\n")
    chatting = asyncio.create_task(chat(session, tmp_path, lines, out, err, hand.keys))
    await out.shows(lambda said: "word3" in said)
    hand.press()
    await out.shows(lambda said: "word3" in said.partition(RECORD_END)[2])
    hand.press(after=5.0)  # the second answer is running, long after the first press
    await chatting
    first, second, rest = out.getvalue().split(RECORD_END)
    assert first.endswith("\n") and len(first) < len(LONG) / 2 and rest == ""
    assert LONG.startswith(first[:-1]) and LONG.startswith(second[:-1])
    assert err.getvalue() == STOPPED * 2
    stored = replies(tmp_path / "tertulia.db")
    assert [outcome for _, outcome in stored] == ["interrupted", "interrupted"]
    assert all(LONG.startswith(text) and text for text, _ in stored)


async def test_a_second_ctrl_c_soon_after_leaves_at_once(session: Session, tmp_path: Path) -> None:
    hand, out, err = Hand(), Screen(), io.StringIO()
    lines = io.StringIO("hola\nadiós\n")
    chatting = asyncio.create_task(chat(session, tmp_path, lines, out, err, hand.keys))
    await out.shows(lambda said: "word3" in said)
    hand.press()
    hand.press(after=0.5)
    await asyncio.wait_for(chatting, 5)
    [partial, rest] = out.getvalue().split(RECORD_END)
    assert LONG.startswith(partial[:-1]) and rest == ""
    assert err.getvalue() == ""  # leaving needs no note
    assert prompts(tmp_path / "tertulia.db") == ["hola"]  # the next line is never read
    assert [outcome for _, outcome in replies(tmp_path / "tertulia.db")] == ["interrupted"]


async def test_ctrl_c_while_a_line_is_awaited_leaves(session: Session, tmp_path: Path) -> None:
    hand, keyboard, out = Hand(), Keyboard(), Screen()
    chatting = asyncio.create_task(chat(session, tmp_path, keyboard, out, io.StringIO(), hand.keys))
    try:
        keyboard.type("hola\n")
        await out.shows(lambda said: "word3" in said)
        hand.press()
        await out.shows(lambda said: RECORD_END in said)
        hand.press(after=60.0)  # nothing more typed: at the prompt
        await asyncio.wait_for(chatting, 5)
    finally:
        keyboard.type("")  # the reading thread's end of input
    assert [outcome for _, outcome in replies(tmp_path / "tertulia.db")] == ["interrupted"]


async def test_ctrl_c_that_stops_nothing_and_leaves_nothing_is_harmless() -> None:
    keys = CtrlC(clock=lambda: 0.0)
    assert await keys.run(asyncio.sleep(0)) is False
    assert not keys.leaving
    keys.press()  # nothing running: leave
    assert keys.leaving
    assert await keys.unless_leaving(asyncio.sleep(10, "never")) is None
