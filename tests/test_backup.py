"""`tertulia backup` and `tertulia restore` as real processes, on real SQLite files."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from bot.types import Outcome
from storage.sqlite import SqliteStore
from storage.sqlite.maintenance import KNOWN
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import clean_env, kill, start_cli
from tests.stores.conftest import said

ROOT = Path(__file__).resolve().parent.parent


def tertulia(tmp_path: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`tertulia ARGS` on database `db`, reading no settings but TERTULIA_DB."""
    settings = tmp_path / "none.env"
    settings.touch(mode=0o600)
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--env-file", str(settings), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**clean_env(), "TERTULIA_DB": str(db)},
    )


def leftovers(folder: Path, prefix: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(prefix)]


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM messages ORDER BY id")]


async def chat_turn(store: SqliteStore, text: str, user: str = "ann") -> None:
    turn = await said(store, text, user=user)
    await store.complete(
        turn.ref, reply=f"re: {text}", outcome=Outcome.OK, tokens=1, first_token_ms=1,
        latency_ms=1,
    )  # fmt: skip


# Another process writing through the real store, as an adapter does, until it is killed.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.types import ConversationKey, Outcome, TurnKind
    from storage.sqlite import SqliteStore

    async def main(db):
        async with SqliteStore(db) as store:
            i = 0
            while True:
                got = await store.ingest(
                    ConversationKey("test", f"w{i % 10}", "c"), display_name="w",
                    platform_message_id=f"w{i}", text=f"written {i}", kind=TurnKind.CHAT,
                )
                await store.complete(
                    got.ref, reply=f"reply {i}", outcome=Outcome.OK, tokens=1,
                    first_token_ms=1, latency_ms=1,
                )
                i += 1
                if i == 20:
                    print("writing", flush=True)
                await asyncio.sleep(0.001)

    asyncio.run(main(sys.argv[1]))
    """
)


def seed(db: Path, rows: int) -> None:
    """A file of some size: `rows` answered messages written straight into it."""
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO users (id, platform, platform_user_id, created_at) VALUES"
                     " (1, 'test', 'seed', 0)")  # fmt: skip
        conn.execute("INSERT INTO conversations (id, user_id, chat_id, started_at)"
                     " VALUES (1, 1, 'c', 0)")  # fmt: skip
        conn.executemany(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind, outcome,"
            " created_at) VALUES (1, 1, 'c', 'user', ?, 'chat', 'ok', 0)",
            ((f"seeded message {i} " * 12,) for i in range(rows)),
        )
        # Already indexed for recall: the writer's background does not index them first.
        conn.execute(
            "UPDATE recall_indexed SET through = (SELECT coalesce(max(id), 0) FROM messages)"
        )


async def test_a_backup_under_write_load_is_one_private_consistent_snapshot(
    tmp_path: Path,
) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    async with SqliteStore(db):
        pass  # the schema
    seed(db, 60_000)
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(db), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert writer.stdout is not None
        assert await asyncio.wait_for(writer.stdout.readline(), 30) == b"writing\n"
        committed = ids(db)  # every row committed before the backup began
        done = await asyncio.to_thread(tertulia, tmp_path, db, "backup", str(copy))
        await asyncio.sleep(0.2)
        assert writer.returncode is None, "the writer went on through the backup"
    finally:
        await kill(writer)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backup: {copy}, ") and " MiB, " in done.stdout
    assert done.stdout.strip().endswith("s (integrity ok)") and done.stdout.count("\n") == 1
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not leftovers(tmp_path, ".copy.db")  # the temporary file is gone

    with sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        steps = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        # Every answer's question is there: no transaction is half in the copy.
        orphans = conn.execute(
            "SELECT count(*) FROM messages a WHERE a.reply_to IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM messages q WHERE q.id = a.reply_to)"
        ).fetchone()[0]
    assert steps == KNOWN and orphans == 0
    backed, live = ids(copy), ids(db)
    assert set(committed) <= set(backed)
    # One snapshot: exactly the rows the writer had committed at one moment (it writes in
    # id order), and it went on writing after that moment.
    assert backed == [i for i in live if i <= backed[-1]]
    assert len(live) > len(backed)


async def test_erased_words_are_not_in_the_backups_bytes(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    async with SqliteStore(db) as store:
        await chat_turn(store, "mi clave es zanahoriaann", user="ann")
        await chat_turn(store, "mi clave es zanahoriabob", user="bob")
        await store.index_pending()  # in the full-text index too
        ann = await store.find_user("test", "ann")
        assert ann is not None
        await store.forget(ann.id)
        # Taken while the store is open, as a running bot's would be.
        done = await asyncio.to_thread(tertulia, tmp_path, db, "backup", str(copy))
    assert done.returncode == 0, done.stderr
    raw = copy.read_bytes()
    assert b"zanahoriaann" not in raw and b"re: mi clave es zanahoriaann" not in raw
    assert b"zanahoriabob" in raw  # the others' words are there, and would be found


def test_free_pages_of_a_file_erased_without_secure_delete_stay_behind(tmp_path: Path) -> None:
    # A file whose rows were deleted with secure_delete off (older releases, another tool):
    # the deleted text is still in its free pages. VACUUM INTO copies live rows only.
    db, copy = tmp_path / "old.db", tmp_path / "copy.db"
    asyncio.run(_schema(db))
    seed(db, 0)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA secure_delete = OFF")
        conn.executemany(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind, outcome,"
            " created_at) VALUES (1, 1, 'c', 'user', ?, 'chat', 'ok', 0)",
            ((f"secreto{i} " * 40,) for i in range(300)),
        )
        conn.commit()
        conn.execute("DELETE FROM messages")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"secreto" in db.read_bytes()
    done = tertulia(tmp_path, db, "backup", str(copy))
    assert done.returncode == 0, done.stderr
    assert b"secreto" not in copy.read_bytes()


async def _schema(db: Path) -> None:
    async with SqliteStore(db):
        pass


def test_an_existing_path_is_replaced_only_with_force(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    asyncio.run(_schema(db))
    copy.write_bytes(b"an older backup")
    refused = tertulia(tmp_path, db, "backup", str(copy))
    assert refused.returncode == 2 and "--force" in one_line(refused)
    assert copy.read_bytes() == b"an older backup"
    forced = tertulia(tmp_path, db, "backup", str(copy), "--force")
    assert forced.returncode == 0, forced.stderr
    assert copy.read_bytes().startswith(b"SQLite format 3\0")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    missing = tertulia(tmp_path, db, "backup", str(tmp_path / "copy.db"))
    assert missing.returncode == 2 and "TERTULIA_DB" in one_line(missing)
    assert not db.exists()  # not created by asking
    asyncio.run(_schema(db))
    nowhere = tertulia(tmp_path, db, "backup", str(tmp_path / "no" / "copy.db"))
    assert nowhere.returncode == 2 and "no such directory" in one_line(nowhere)
    into_dir = tertulia(tmp_path, db, "backup", str(tmp_path))
    assert into_dir.returncode == 2 and "directory" in one_line(into_dir)

    before = db.read_bytes()
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a database at all" * 100)
    for path, why in [
        (tmp_path / "absent.db", "no such database"),
        (notes, "not a usable SQLite database"),
        (tmp_path / "none.env", "not a tertulia database"),  # empty: SQLite's empty database
    ]:
        done = tertulia(tmp_path, db, "restore", str(path))
        assert done.returncode == 2 and why in one_line(done), (path, done.stderr)
    assert db.read_bytes() == before


def test_restore_refuses_a_newer_schema_and_a_damaged_file(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    asyncio.run(_schema(db))
    seed(db, 3000)
    assert tertulia(tmp_path, db, "backup", str(copy)).returncode == 0
    newer = tmp_path / "newer.db"
    newer.write_bytes(copy.read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('999_from_the_future', 0)")
    done = tertulia(tmp_path, db, "restore", str(newer))
    assert done.returncode == 2 and "newer tertulia" in one_line(done)

    damaged = tmp_path / "damaged.db"
    data = bytearray(copy.read_bytes())
    page = 4096
    data[len(data) // 2 : len(data) // 2 + 3 * page] = os.urandom(3 * page)
    damaged.write_bytes(bytes(data))
    done = tertulia(tmp_path, db, "restore", str(damaged))
    assert done.returncode == 2, done.stderr
    assert "damaged" in one_line(done) or "malformed" in done.stderr


async def test_restore_brings_back_the_backup_and_keeps_the_database_it_replaced(
    tmp_path: Path,
) -> None:
    db, copy = tmp_path / "data" / "live.db", tmp_path / "copy.db"
    async with SqliteStore(db) as store:
        await chat_turn(store, "de antes")
    assert (await asyncio.to_thread(tertulia, tmp_path, db, "backup", str(copy))).returncode == 0
    async with SqliteStore(db) as store:
        await chat_turn(store, "de después")
    done = await asyncio.to_thread(tertulia, tmp_path, db, "restore", str(copy))
    assert done.returncode == 0, done.stderr
    kept = leftovers(db.parent, "live.db.before-restore-")
    assert len(kept) == 1 and f"kept as {kept[0]}" in done.stdout
    assert not db.with_name("live.db-wal").exists()
    assert copy.exists()  # copied, not moved
    async with SqliteStore(db) as store:
        ann = await store.find_user("test", "ann")
        assert ann is not None
        texts = [m.text for m in await store.history(ann.id)]
    assert texts == ["de antes", "re: de antes"]
    with sqlite3.connect(kept[0]) as conn:
        old = [r[0] for r in conn.execute("SELECT text FROM messages ORDER BY id")]
    assert "de después" in old  # nothing lost: the replaced file is whole


async def test_restore_is_refused_while_a_process_has_the_database_open(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    async with SqliteStore(db) as store:
        await chat_turn(store, "hola")
        assert (
            await asyncio.to_thread(tertulia, tmp_path, db, "backup", str(copy))
        ).returncode == 0
        # A store held open (in this process, heartbeat or not): the file is in use.
        held = await asyncio.to_thread(tertulia, tmp_path, db, "restore", str(copy))
    assert held.returncode == 1 and "in use" in one_line(held)
    assert not leftovers(tmp_path, ".live.db")  # its copy of the backup is gone again

    async with FakeOpenAIServer("¡hola!") as model:
        env = {
            **clean_env(),
            "TERTULIA_DB": str(db),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "x",
        }
        pipe = asyncio.subprocess.PIPE
        chat = await start_cli("chat", env, stdin=pipe, stdout=pipe, stderr=pipe)
        try:
            assert chat.stdin is not None and chat.stdout is not None
            chat.stdin.write(b"hola\n")
            await chat.stdin.drain()
            assert await asyncio.wait_for(chat.stdout.readline(), 60) == "¡hola!\n".encode()
            await asyncio.sleep(1)  # its first heartbeat
            before = db.read_bytes()
            done = await asyncio.to_thread(tertulia, tmp_path, db, "restore", str(copy))
            assert done.returncode == 1, done.stderr
            assert f"chat (pid {chat.pid}" in one_line(done)
            assert db.read_bytes() == before
            chat.stdin.close()  # end of input: the chat ends
            assert await asyncio.wait_for(chat.wait(), 30) == 0
        finally:
            await kill(chat)
    done = await asyncio.to_thread(tertulia, tmp_path, db, "restore", str(copy))
    assert done.returncode == 0, done.stderr


def test_restore_onto_a_machine_with_no_database_yet(tmp_path: Path) -> None:
    db, copy = tmp_path / "old.db", tmp_path / "copy.db"
    asyncio.run(_schema(db))
    assert tertulia(tmp_path, db, "backup", str(copy)).returncode == 0
    fresh = tmp_path / "new" / "data" / "tertulia.db"
    done = tertulia(tmp_path, fresh, "restore", str(copy))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restored {copy} into {fresh} (") and "kept" not in done.stdout
    assert fresh.read_bytes() == copy.read_bytes()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_help_names_the_exit_codes() -> None:
    for command in ("backup", "restore"):
        done = subprocess.run(
            [sys.executable, "-m", "adapters.cli", command, "--help"],
            capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60,
        )  # fmt: skip
        assert done.returncode == 0 and "exit status" in done.stdout
