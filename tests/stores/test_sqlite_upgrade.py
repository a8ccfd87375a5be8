"""A file from the first release opens on today's store with its history whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.types import Outcome, TurnKind
from storage.sqlite import SqliteStore
from storage.sqlite.migrations import MIGRATIONS, _statements
from tests.stores.conftest import said


def old_file(path: Path) -> None:
    """A file as the first release left it: migration 001 only, rows with every status."""
    name, sql = MIGRATIONS[0]
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        raw.execute("INSERT INTO schema_migrations VALUES (?, 0)", (name,))
        for statement in _statements(sql):
            raw.execute(statement)
        raw.execute("INSERT INTO users VALUES (1, 't', 'ann', 'Ann', 'es', 'pirate', 0)")
        raw.execute("INSERT INTO users VALUES (2, 't', 'bob', 'Bob', NULL, NULL, 0)")
        raw.execute("INSERT INTO conversations VALUES (1, 1, 'c', 0, 1)")
        raw.execute("INSERT INTO conversations VALUES (2, 2, 'c', 0, 1)")
        rows = [  # (id, user, role, text, status, reply_to)
            (1, 1, "user", "asked", "ok", None),
            (2, 1, "assistant", "answered", "ok", 1),
            (3, 1, "user", "/help", "command", None),
            (4, 1, "user", "too long", "rejected", None),
            (5, 1, "user", "broke", "failed", None),
            (6, 1, "assistant", "half", "failed", 5),
            (7, 1, "user", "filtered", "blocked", None),
            (8, 1, "user", "stopped", "interrupted", None),
            (9, 1, "user", "died", "pending", None),
            (10, 2, "user", "bob asked", "ok", None),
        ]
        raw.executemany(
            "INSERT INTO messages (id, user_id, conversation_id, chat_id, role, text, status,"
            " created_at, reply_to) VALUES (?, ?, ?, 'c', ?, ?, ?, 0, ?)",
            [(i, u, u, role, text, status, to) for i, u, role, text, status, to in rows],
        )


async def test_a_file_from_the_first_release_keeps_its_history(db_path: Path) -> None:
    old_file(db_path)
    async with SqliteStore(db_path) as db:
        ann = await db.find_user("t", "ann")
        assert ann is not None and (ann.id, ann.lang, ann.persona) == (1, "es", "pirate")
        got = [(m.text, m.kind, m.outcome) for m in await db.history(ann.id)]
        window = [t.text for t in await db.window(ann.id, 1)]
        # Messages from before full-text search are indexed by the migration that adds it.
        recalled = await db.recall(ann.id, ["asked", "broke"], exclude_conversation=-1)
    assert [(h.text, h.partner) for h in recalled] == [("asked", "answered")]
    assert got == [
        ("asked", TurnKind.CHAT, Outcome.OK),
        ("answered", TurnKind.CHAT, Outcome.OK),
        ("/help", TurnKind.COMMAND, Outcome.OK),
        ("too long", TurnKind.REJECTED, Outcome.OK),
        ("broke", TurnKind.CHAT, Outcome.FAILED),
        ("half", TurnKind.CHAT, Outcome.FAILED),
        ("filtered", TurnKind.CHAT, Outcome.BLOCKED),
        ("stopped", TurnKind.CHAT, Outcome.INTERRUPTED),
        ("died", TurnKind.CHAT, Outcome.PENDING),
    ]
    assert window == ["answered", "asked"]
    with sqlite3.connect(db_path) as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(messages)")]
        names = [r[0] for r in raw.execute("SELECT name FROM schema_migrations ORDER BY name")]
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("UPDATE messages SET outcome = 'bogus' WHERE id = 1")
    assert "status" not in columns and {"kind", "outcome"} <= set(columns)
    assert names == [name for name, _ in MIGRATIONS]


async def test_an_upgraded_file_goes_on_working(db_path: Path) -> None:
    old_file(db_path)
    async with SqliteStore(db_path) as db:
        asked = await said(db, "new question", user="ann", chat="c", platform="t")
        assert asked.ref.conversation_id == 1 and asked.ref.prompt_id == 11
        await db.complete(
            asked.ref, reply="new answer", outcome=Outcome.OK, tokens=1, first_token_ms=None,
            latency_ms=1,
        )  # fmt: skip
        window = [t.text for t in await db.window(asked.user.id, 1)]
        assert window[:2] == ["new answer", "new question"]
        assert await db.forget(2) == 1  # bob: the rebuilt users table still cascades
        newcomer = await said(db, "hi", user="cy", platform="t")
    assert newcomer.user.id == 3
