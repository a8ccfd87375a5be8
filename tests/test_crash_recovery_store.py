"""Crash recovery's claim on a real SQLite file: dead processes' turns only, each claimed once."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.types import Outcome, Rated, TurnKind
from storage.sqlite import SqliteStore
from tests.stores.conftest import said

HOST = socket.gethostname()


def dead_pid() -> int:
    """A pid no process has now (one of a child that has exited and been reaped)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def heartbeat(
    db: Path, platform: str, pid: int, *, started: float, seen: float, host: str = HOST
) -> None:
    """A process's row in `processes`, as its own heartbeats would have written it."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO processes (host, pid, platform, started_at, seen_at) VALUES (?,?,?,?,?)",
            (host, pid, platform, started, seen),
        )


def outcome_of(db: Path, message_id: int) -> str:
    with sqlite3.connect(db) as conn:
        return str(
            conn.execute("SELECT outcome FROM messages WHERE id = ?", (message_id,)).fetchone()[0]
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "t.db") as opened:
        yield opened


async def test_a_dead_processes_pending_turn_is_claimed_once(
    store: SqliteStore, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    now = time.time()
    # The killed process: its row still looks fresh, but its pid is gone from this host.
    heartbeat(db, "telegram", dead_pid(), started=now - 60, seen=now)
    turn = await said(store, "cut off", platform="telegram", message_id="7")
    await store.set_lang(turn.user.id, "es")
    answered = await said(store, "answered", user="bob", platform="telegram")
    await store.complete(answered.ref, reply="hi", outcome=Outcome.OK, tokens=1,
                         first_token_ms=1, latency_ms=2)  # fmt: skip
    await said(store, "/help", user="cy", platform="telegram", kind=TurnKind.COMMAND)
    other = await said(store, "elsewhere", user="dee", platform="discord")

    claimed = await store.claim_orphans("telegram", ("telegram",), started=now + 1, now=now + 1)

    assert [(o.ref.prompt_id, o.user_id, o.chat_id, o.message_id, o.lang) for o in claimed] == [
        (turn.ref.prompt_id, "ann", "c1", "7", "es")
    ]
    assert outcome_of(db, turn.ref.prompt_id) == "interrupted"
    assert outcome_of(db, answered.ref.prompt_id) == "ok"  # answered: left as it is
    assert outcome_of(db, other.ref.prompt_id) == "pending"  # another platform's
    # Never fed back as context, and a second look (a second restart) finds nothing.
    assert await store.window(turn.user.id, turn.ref.conversation_id) == []
    assert await store.claim_orphans("telegram", ("telegram",), started=now + 2, now=now + 2) == []


async def test_a_live_process_keeps_its_turns(store: SqliteStore, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    now = time.time()
    # A live process of the same platform that started before the turn (our parent's pid
    # exists): the turn may be its answer in progress.
    heartbeat(db, "telegram", os.getppid(), started=now - 30, seen=now)
    turn = await said(store, "being answered", platform="telegram")
    assert await store.claim_orphans("telegram", ("telegram",), started=now + 1, now=now + 1) == []
    assert outcome_of(db, turn.ref.prompt_id) == "pending"
    # Once its heartbeats stop (a host we cannot check), a later sweep claims the turn.
    later = now + 60
    claimed = await store.claim_orphans("telegram", ("telegram",), started=now + 1, now=later)
    assert [o.ref.prompt_id for o in claimed] == [turn.ref.prompt_id]


async def test_another_hosts_fresh_heartbeat_is_trusted(store: SqliteStore, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    now = time.time()
    heartbeat(db, "discord", 1, started=now - 30, seen=now, host="elsewhere")
    turn = await said(store, "being answered", platform="discord")
    assert await store.claim_orphans("discord", ("discord",), started=now + 1, now=now + 1) == []
    assert outcome_of(db, turn.ref.prompt_id) == "pending"


async def test_a_process_started_after_the_turn_cannot_own_it(
    store: SqliteStore, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    turn = await said(store, "cut off", platform="telegram")
    now = time.time() + 1
    # A second process of the platform, alive, but started after the turn was stored.
    heartbeat(db, "telegram", os.getppid(), started=now, seen=now)
    claimed = await store.claim_orphans("telegram", ("telegram",), started=now + 1, now=now + 1)
    assert [o.ref.prompt_id for o in claimed] == [turn.ref.prompt_id]


async def test_turns_stored_since_this_process_started_are_its_own(store: SqliteStore) -> None:
    started = time.time()
    await said(store, "mine, in progress", platform="telegram")
    assert await store.claim_orphans("telegram", ("telegram",), started=started, now=started) == []


async def test_two_processes_starting_together_claim_each_turn_once(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with SqliteStore(db) as first, SqliteStore(db) as second:
        turns = [await said(first, f"q{i}", user=f"u{i}", platform="telegram") for i in range(20)]
        now = time.time() + 1
        a, b = await asyncio.gather(
            first.claim_orphans("telegram", ("telegram",), started=now, now=now),
            second.claim_orphans("telegram", ("telegram",), started=now, now=now),
        )
    claimed = sorted(o.ref.prompt_id for o in [*a, *b])
    assert claimed == sorted(t.ref.prompt_id for t in turns)  # every one, none twice
    assert not (a and b)  # one transaction took them all


async def test_retry_on_an_interrupted_turn_without_an_answer(store: SqliteStore) -> None:
    turn = await said(store, "cut off", platform="telegram")
    now = time.time() + 1
    (orphan,) = await store.claim_orphans("telegram", ("telegram",), started=now, now=now)
    ids, prompt = [turn.user.id], turn.ref.prompt_id
    # ↻ under the note names the turn itself.
    assert await store.redoable(ids, "c1", prompt) is Rated.OK
    assert await store.redoable(ids, "other chat", prompt) is Rated.NOT_LATEST
    assert await store.redoable([999], "c1", prompt) is Rated.NOT_YOURS
    rated, redo = await store.redo(ids, turn.ref.conversation_id, prompt)
    assert rated is Rated.OK and redo is not None
    assert (redo.prompt_id, redo.text, redo.kept) == (prompt, "cut off", None)
    done = await store.complete(orphan.ref, reply="now answered", outcome=Outcome.OK, tokens=1,
                                first_token_ms=1, latency_ms=2)  # fmt: skip
    assert [t.text for t in await store.window(turn.user.id, turn.ref.conversation_id)] == [
        "now answered",
        "cut off",
    ]
    # Answered now: the note's ↻ is spent, the answer's own buttons take over.
    assert await store.redoable(ids, "c1", prompt) is Rated.GONE
    assert done.reply_id is not None and await store.redoable(ids, "c1", done.reply_id) is Rated.OK
    # A newer message makes the interrupted one old: its ↻ no longer answers it.
    again = await said(store, "cut off again", platform="telegram")
    await store.settle(again.ref, Outcome.INTERRUPTED)
    await said(store, "newer", platform="telegram")
    assert await store.redoable(ids, "c1", again.ref.prompt_id) is Rated.NOT_LATEST
    rated, redo = await store.redo(ids, turn.ref.conversation_id, again.ref.prompt_id)
    assert (rated, redo) == (Rated.NOT_LATEST, None)
