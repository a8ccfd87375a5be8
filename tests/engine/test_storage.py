"""The SQLite memory on a real file: migrations, isolation between users, the indexed window."""

from __future__ import annotations

import sqlite3

from storage.memory import WINDOW_SQL, SqliteMemory
from storage.migrations import MIGRATIONS


async def _ingest(mem: SqliteMemory, user: str, text: str, msg_id: str | None = None):
    return await mem.ingest(
        platform="t",
        platform_user_id=user,
        display_name=user,
        chat_id="c",
        platform_message_id=msg_id,
        text=text,
        status="ok",
        tokens=1,
    )


async def test_migrations_apply_once_and_wal_is_on(db_path):
    async with SqliteMemory(db_path):
        pass
    async with SqliteMemory(db_path) as again:
        async with again.conn.execute("SELECT name FROM schema_migrations") as cur:
            names = [r[0] for r in await cur.fetchall()]
        async with again.conn.execute("PRAGMA journal_mode") as cur:
            mode = (await cur.fetchone())[0]
    assert names == [name for name, _ in MIGRATIONS]
    assert mode == "wal"


async def test_every_user_query_is_scoped_to_the_user(memory):
    a = await _ingest(memory, "alice", "alice's secret")
    b = await _ingest(memory, "bob", "bob's secret")
    assert a and b and a.user.id != b.user.id
    assert [m.text for m in await memory.history(a.user.id)] == ["alice's secret"]
    # Asking for bob's conversation with alice's id returns nothing.
    assert await memory.window(a.user.id, b.conversation_id) == []
    assert [t.text for t in await memory.window(b.user.id, b.conversation_id)] == ["bob's secret"]


async def test_idempotency_key_rejects_a_redelivered_message(memory):
    assert await _ingest(memory, "alice", "hi", "7") is not None
    assert await _ingest(memory, "alice", "hi", "7") is None
    assert await _ingest(memory, "alice", "hi", None) is not None
    assert await _ingest(memory, "alice", "hi", None) is not None


async def test_forget_cascades_to_conversations_and_messages(memory, db_path):
    a = await _ingest(memory, "alice", "x")
    await memory.new_conversation(a.user.id, "c")
    await _ingest(memory, "alice", "y")
    assert await memory.forget(a.user.id) == 2
    with sqlite3.connect(db_path) as raw:
        counts = [
            raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("users", "conversations", "messages")
        ]
    assert counts == [0, 0, 0]


async def test_window_reads_through_the_index(memory):
    async with memory.conn.execute("EXPLAIN QUERY PLAN " + WINDOW_SQL, (1, 1, 10)) as cur:
        plan = " ".join(str(r[3]) for r in await cur.fetchall())
    assert "messages_window" in plan and "TEMP B-TREE" not in plan


async def test_the_background_checkpointer_moves_the_wal_into_the_file(db_path):
    import asyncio

    async with SqliteMemory(db_path, checkpoint_every=0.05) as mem:
        before = db_path.stat().st_size
        for i in range(200):
            await _ingest(mem, f"user{i}", "x" * 500)
        # Autocheckpoint is off: only the background task copies pages into the file.
        for _ in range(100):
            if db_path.stat().st_size > before + 50_000:
                break
            await asyncio.sleep(0.05)
        assert db_path.stat().st_size > before + 50_000
