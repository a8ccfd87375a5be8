"""What only the SQLite store promises: its file, pragmas, indexes, history, two processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.ports import StorageError
from bot.types import Outcome, TurnKind
from storage.sqlite import SqliteStore
from storage.sqlite.migrations import MIGRATIONS, migrate
from storage.sqlite.turns import KNOWN_SQL, WINDOW_SQL
from tests.stores.conftest import said


def plan(db: SqliteStore, sql: str) -> str:
    with sqlite3.connect(db.path) as raw:
        rows = raw.execute("EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?")).fetchall()
    return " ".join(str(r[3]) for r in rows)


async def test_migrations_apply_once_and_the_pragmas_hold(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass
    async with SqliteStore(db_path) as again:
        assert await migrate(again.conn) == []
        names = [
            r[0] for r in await again.conn.execute_fetchall("SELECT name FROM schema_migrations")
        ]
        pragmas = {
            name: list(await again.conn.execute_fetchall(f"PRAGMA {name}"))[0][0]
            for name in ("journal_mode", "foreign_keys", "wal_autocheckpoint", "busy_timeout")
        }
    assert names == [name for name, _ in MIGRATIONS]
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "wal_autocheckpoint": 0,
        "busy_timeout": 10_000,
    }


async def test_the_window_reads_the_covering_index_only(sqlite: SqliteStore) -> None:
    found = plan(sqlite, WINDOW_SQL)
    assert "INDEX messages_window" in found and "TEMP B-TREE" not in found
    # SQLite 3.40's plan says USING INDEX, not COVERING: it counts the partial index's
    # WHERE columns as needed. Its seek into the table is deferred, though, and never made
    # when every column read comes from the index: check the opcodes for exactly that.
    with sqlite3.connect(sqlite.path) as raw:
        ((root,),) = raw.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'messages_window'"
        )
        ops = raw.execute("EXPLAIN " + WINDOW_SQL, (1, 1, 0, 2**63 - 1, 10)).fetchall()
    index_cursors = {op[2] for op in ops if op[1] == "OpenRead" and op[3] == root}
    columns = [op[2] for op in ops if op[1] == "Column"]
    assert index_cursors and columns and set(columns) <= index_cursors
    assert not [op for op in ops if op[1] in ("SeekRowid", "NotExists", "Rowid")]


async def test_a_known_persons_turn_is_found_by_index_and_writes_one_row(
    sqlite: SqliteStore,
) -> None:
    # Only the few facts the subquery found are read in turn (SCAN held), never a table.
    assert "SCAN" not in plan(sqlite, KNOWN_SQL).replace("SCAN held", "")
    for i in range(20):
        await said(sqlite, f"turn {i}", user=f"u{i % 2}")
    # Upserting the user every turn would have burnt an AUTOINCREMENT id per message.
    ((seq,),) = await sqlite.conn.execute_fetchall("SELECT seq FROM sqlite_sequence")
    assert seq == 2


async def test_the_lookups_a_forget_cascades_into_are_indexed(sqlite: SqliteStore) -> None:
    # Each erased row makes SQLite find the rows that point at it: never a full scan.
    assert "messages_reply_to" in plan(sqlite, "SELECT 1 FROM messages WHERE reply_to = ?")
    assert "messages_conversation" in plan(
        sqlite, "SELECT 1 FROM messages WHERE conversation_id = ?"
    )


async def test_forget_leaves_no_row_behind(sqlite: SqliteStore) -> None:
    ann = await said(sqlite, "x")
    await sqlite.new_conversation(ann.user.id, "c1")
    await said(sqlite, "y")
    await said(sqlite, "bob's", user="bob")
    assert await sqlite.forget(ann.user.id) == 2
    with sqlite3.connect(sqlite.path) as raw:
        left = [
            raw.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (ann.user.id,))
            for table, column in (("users", "id"), ("conversations", "user_id"))
        ]
        texts = raw.execute("SELECT text FROM messages").fetchall()
    assert [cur.fetchone()[0] for cur in left] == [0, 0]
    assert texts == [("bob's",)]


async def test_reads_overlap_writes_and_never_see_one_in_progress(sqlite: SqliteStore) -> None:
    first = await said(sqlite, "hola")
    ref = await sqlite.complete(
        first.ref, reply="qué tal", outcome=Outcome.OK, tokens=1, first_token_ms=1, latency_ms=1
    )
    async with sqlite._write() as conn:  # another chat's write, still in progress
        await conn.execute(
            "UPDATE messages SET text = 'half-written' WHERE id = ?", (ref.prompt_id,)
        )
        # On one shared connection this read would run inside that transaction and see
        # its uncommitted text; on the reader it sees the committed state, at once.
        window = await asyncio.wait_for(sqlite.window(first.user.id, ref.conversation_id), 2)
    assert [t.text for t in window] == ["qué tal", "hola"]
    after = await sqlite.window(first.user.id, ref.conversation_id)
    assert [t.text for t in after] == ["qué tal", "half-written"]  # committed now


async def test_history_is_oldest_first_per_chat_with_enums(sqlite: SqliteStore) -> None:
    first = await said(sqlite, "one")
    await sqlite.complete(
        first.ref, reply="r1", outcome=Outcome.OK, tokens=1, first_token_ms=1, latency_ms=2
    )
    await said(sqlite, "/help", kind=TurnKind.COMMAND)
    await said(sqlite, "elsewhere", chat="c2")
    await said(sqlite, "bob's", user="bob")
    history = await sqlite.history(first.user.id)
    assert [(m.role, m.text, m.kind, m.outcome) for m in history] == [
        ("user", "one", TurnKind.CHAT, Outcome.OK),
        ("assistant", "r1", TurnKind.CHAT, Outcome.OK),
        ("user", "/help", TurnKind.COMMAND, Outcome.PENDING),
        ("user", "elsewhere", TurnKind.CHAT, Outcome.PENDING),
    ]
    assert all(type(m.kind) is TurnKind and type(m.outcome) is Outcome for m in history)
    assert [m.text for m in await sqlite.history(first.user.id, "c1", limit=2)] == ["r1", "/help"]
    assert history[0].conversation_id == first.ref.conversation_id
    assert history[0].created_at <= history[-1].created_at


def size(path: Path) -> int:
    return path.stat().st_size


async def test_the_background_checkpointer_moves_the_wal_into_the_file(db_path: Path) -> None:
    async with SqliteStore(db_path, checkpoint_every=0.05) as db:
        before = size(db_path)
        for i in range(200):
            await said(db, "x" * 500, user=f"user{i}")
        # Autocheckpoint is off: only the background task copies pages into the file.
        for _ in range(100):
            if size(db_path) > before + 50_000:
                break
            await asyncio.sleep(0.05)
        assert size(db_path) > before + 50_000


async def test_the_background_never_holds_the_file_when_a_reply_writes(db_path: Path) -> None:
    """The background's writes (indexing, merges, heartbeat) take the process's write lock:
    a reply's write waits for them in the loop, never in SQLite's busy handler, which
    sleeps 1, 2, 5, 10 ms between tries. With no busy timeout at all, a write that met
    the file locked by our own background would fail here instead of sleeping."""
    async with SqliteStore(db_path, busy_timeout_ms=0, checkpoint_every=0.001) as db:
        for i in range(300):
            turn = await said(db, f"mensaje número {i} sobre el puente y el río")
            await db.complete(
                turn.ref,
                reply=f"respuesta {i}",
                outcome=Outcome.OK,
                tokens=1,
                first_token_ms=1,
                latency_ms=1,
            )
    async with SqliteStore(db_path) as db:
        await db.index_pending()
        hits = await db.recall(turn.user.id, ["puente"], exclude_conversation=0, limit=5)
    assert len(hits) == 5  # the background indexed them meanwhile


@pytest.mark.parametrize("what", ["not a database", "a directory"])
async def test_an_unusable_file_is_one_line_naming_the_setting(tmp_path: Path, what: str) -> None:
    path = tmp_path / "tertulia.db"
    if what == "a directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not an SQLite file, just some text " * 100)
    with pytest.raises(StorageError, match=r"^TERTULIA_DB: cannot (open|use) ") as caught:
        await SqliteStore(path).open()
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


ROOT = Path(__file__).resolve().parents[2]

# One adapter process, the store alone: COUNT turns by 20 people of PLATFORM, all at once.
DRIVER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.types import ConversationKey, Outcome, TurnKind
    from storage.sqlite import SqliteStore

    async def main(db, platform, count):
        # A fresh file: both processes also race to apply the migrations.
        async with SqliteStore(db) as store:

            async def one(i):
                got = await store.ingest(
                    ConversationKey(platform, f"u{i % 20}", "c"), display_name=f"u{i % 20}",
                    platform_message_id=str(i), text=f"{platform} {i}", kind=TurnKind.CHAT,
                )
                await store.window(got.user.id, got.ref.conversation_id)
                done = await store.complete(
                    got.ref, reply=f"re {platform} {i}", outcome=Outcome.OK, tokens=1,
                    first_token_ms=1, latency_ms=1,
                )
                assert done.reply_id is not None

            await asyncio.gather(*(one(i) for i in range(count)))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def test_two_processes_write_one_fresh_file_at_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    count = 300
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(db), platform, str(count)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for platform in ("telegram", "discord")
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    with sqlite3.connect(db) as raw:
        rows = raw.execute(
            "SELECT u.platform, m.role, m.kind, m.outcome, count(*),"
            " count(DISTINCT m.text) FROM messages m JOIN users u ON u.id = m.user_id"
            " WHERE m.text LIKE '%' || u.platform || ' %' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2"
        ).fetchall()
        users = raw.execute("SELECT count(*) FROM users").fetchone()[0]
        migrations = raw.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
    assert rows == [
        ("discord", "assistant", "chat", "ok", count, count),
        ("discord", "user", "chat", "ok", count, count),
        ("telegram", "assistant", "chat", "ok", count, count),
        ("telegram", "user", "chat", "ok", count, count),
    ]
    assert (users, migrations) == (40, len(MIGRATIONS))


async def test_an_erased_persons_words_are_nowhere_in_the_files(sqlite: SqliteStore) -> None:
    for name in ("ann", "bob", "cy"):
        turn = await said(sqlite, f"mi clave es zanahoria{name} y nada más", user=name)
        await sqlite.complete(
            turn.ref, reply=f"anotado {name}", outcome=Outcome.OK, tokens=1,
            first_token_ms=1, latency_ms=1,
        )  # fmt: skip
    await sqlite.index_pending()  # every word in the index first: it must leave it too
    await sqlite.forget(turn.user.id)  # cy
    files = [sqlite.path, sqlite.path.with_name(sqlite.path.name + "-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert b"zanahoriacy" not in raw and b"anotado cy" not in raw
    assert b"zanahoriabob" in raw  # the others' words are still there, and found
    bob = (await said(sqlite, "hola", user="bob")).user
    found = await sqlite.recall(bob.id, ["zanahoriabob"], exclude_conversation=-1)
    assert [h.text for h in found] == ["mi clave es zanahoriabob y nada más"]


async def test_a_process_of_an_older_release_can_still_write(sqlite: SqliteStore) -> None:
    first = await said(sqlite, "hola")
    # Without recall_terms registered, as an older process sharing the file during an
    # upgrade: it writes and erases messages (they are just not searchable).
    with sqlite3.connect(sqlite.path) as raw:
        raw.execute(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind,"
            " outcome, created_at) VALUES (?, ?, 'c1', 'user', 'de antes', 'chat', 'ok', 0)",
            (first.user.id, first.ref.conversation_id),
        )
        raw.execute("DELETE FROM messages WHERE text = 'de antes'")


async def test_an_erasure_in_the_other_process_empties_this_ones_cached_vectors(
    sqlite: SqliteStore,
) -> None:
    ann = await said(sqlite, "perro")
    bob = await said(sqlite, "gato", user="bob")
    unit = [1.0] + [0.0] * 7
    rows = await sqlite.unembedded("e")
    await sqlite.keep_vectors("e", [(i, u, unit) for i, u, _ in rows], through=rows[-1][0])
    assert await sqlite.nearest([ann.user.id], "e", unit, exclude_conversation=-1) == [
        ann.ref.prompt_id
    ]
    async with SqliteStore(sqlite.path) as other:  # the other adapter process
        await other.forget(ann.user.id)
    await sqlite.nearest([bob.user.id], "e", unit, exclude_conversation=-1)
    assert list(sqlite._matrices) == [("e", (bob.user.id,))]


async def test_a_long_history_of_vectors_is_read_in_the_background(sqlite: SqliteStore) -> None:
    ann = await said(sqlite, "perro")
    rows = await sqlite.unembedded("e")
    unit = [1.0] + [0.0] * 7
    await sqlite.keep_vectors("e", [(i, u, unit) for i, u, _ in rows], through=rows[-1][0])
    gate = asyncio.Event()
    slow_load = sqlite._load

    async def load(key: tuple[str, tuple[int, ...]]) -> None:
        await gate.wait()  # as reading 100,000 vectors would take seconds
        await slow_load(key)

    sqlite._load = load  # type: ignore[method-assign]
    # The reply does not wait for it: nothing by meaning this time, words still work.
    assert await sqlite.nearest([ann.user.id], "e", unit, exclude_conversation=-1) == []
    gate.set()
    await asyncio.sleep(0.2)
    found = await sqlite.nearest([ann.user.id], "e", unit, exclude_conversation=-1)
    assert found == [ann.ref.prompt_id]
