"""The dataset reader: read-only, one conversation at a time, clear about files it cannot use."""

from __future__ import annotations

import sqlite3
import time
import tracemalloc
from pathlib import Path

import pytest

from bot.ports import StorageError
from storage.sqlite import SqliteStore
from storage.sqlite.dataset import DatasetReader
from tests.dataset.conftest import Person, export, preview


def contents(path: Path) -> bytes:
    return path.read_bytes()


async def test_an_export_never_writes_to_the_database(db_path: Path, tmp_path: Path) -> None:
    async with SqliteStore(db_path) as store:
        ann = Person(store)
        await ann.say("A question worth keeping for the dataset.", "An answer worth keeping too.")
        await ann.consent()
    before = contents(db_path)
    export(db_path, tmp_path / "out", "vertex-sft", validation=0)
    assert contents(db_path) == before
    # A reader of a WAL database opens its shared-memory index; its log stays empty.
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with (
        DatasetReader(db_path) as reader,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        reader.db.execute("DELETE FROM messages")


def test_a_missing_or_older_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such database"):
        DatasetReader(tmp_path / "missing.db").__enter__()
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:
        raw.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, platform TEXT)")
        raw.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, text TEXT)")
    with pytest.raises(StorageError, match="older tertulia"):
        DatasetReader(old).__enter__()


async def test_conversations_stream_one_at_a_time_in_bounded_memory(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass  # the schema, as the store makes it
    people, per_person, size = 200, 100, 1000  # 20,000 messages, about 20 MB of text
    now = time.time()
    with sqlite3.connect(db_path) as raw:
        raw.executemany(
            "INSERT INTO users (id, platform, platform_user_id, created_at, tuning_consent)"
            " VALUES (?, 'telegram', ?, ?, 1)",
            ((u, str(u), now) for u in range(1, people + 1)),
        )
        raw.executemany(
            "INSERT INTO conversations (id, user_id, chat_id, started_at) VALUES (?, ?, 'c', ?)",
            ((u, u, now) for u in range(1, people + 1)),
        )
        raw.executemany(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind, outcome,"
            " created_at) VALUES (?, ?, 'c', ?, ?, 'chat', 'ok', ?)",
            (
                (u, u, ("user", "assistant")[i % 2], f"{u}-{i} " + "x" * size, now)
                for u in range(1, people + 1)
                for i in range(per_person)
            ),
        )
    with DatasetReader(db_path) as reader:
        tracemalloc.start()
        try:
            seen = []
            for conversation in reader.conversations():
                seen.append((conversation.id, len(conversation.turns)))
                del conversation
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen == [(u, per_person) for u in range(1, people + 1)]
    # One conversation (100 KB of text) at a time, not the 20 MB the file holds.
    assert peak < 2 * 2**20


async def test_each_part_of_a_conversation_gets_the_persona_its_answers_had(
    db_path: Path, tmp_path: Path
) -> None:
    async with SqliteStore(db_path) as store:
        ann = Person(store)
        said = "Plants make sugar from light."
        await ann.say("Explain photosynthesis in a few words.", said, persona="assistant")
        await ann.say("And in more detail?", "Chlorophyll absorbs light...", persona="assistant")
        # Switched to the tutor in the same conversation (/persona tutor), answers say so.
        await ann.say("Quiz me on it.", "What does chlorophyll absorb?", persona="tutor")
        await ann.say("Light!", "Correct, well done.", persona="tutor")
        await store.set_persona(ann.id, "assistant")  # and back again today
        await ann.consent()
    with DatasetReader(db_path) as reader:
        parts = list(reader.conversations(personas=("assistant", "tutor")))
        tutor = list(reader.conversations(persona="tutor", personas=("assistant", "tutor")))
    assert [(p.persona, len(p.turns)) for p in parts] == [("assistant", 4), ("tutor", 4)]
    assert parts[0].id == parts[1].id  # one conversation, in two parts
    assert [p.turns[0].text for p in tutor] == ["Quiz me on it."]
    examples = preview(db_path, "openai-chat")
    systems = sorted(e["messages"][0]["content"] for e in examples)
    assert any("patient test tutor" in s for s in systems)
    assert any("test assistant" in s for s in systems)
