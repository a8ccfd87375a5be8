"""Recall latency at scale: a cached file of 1M messages (100k one person's), timed searches."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.bench_recall_data import queries, small_talk
from bench.bench_recall_drive import (
    Chat,
    RandomEmbedder,
    copy_db,
    engine_on,
    fake_model,
    spread,
)
from bench.bench_recall_vocab import TOPICS
from bench.common import create_store, schema_key
from bot.context import search_words
from storage.sqlite import SqliteStore
from storage.sqlite.terms import recall_terms

CACHE = Path(tempfile.gettempdir()) / "tertulia-bench-recall"
DATA_VERSION = 1  # bump when the generated database changes
PER_OTHER = 1_000  # messages of each other person
EXCHANGES = 10  # per conversation
WARM = 50  # searches or messages run first and left out of the figures
MIXED = 20  # searches of the heavy person, each after another person's
HEAVY, TYPICAL = 1, 2  # user ids: the person with most messages, one with PER_OTHER


def latency_db(heavy: int, total: int, rebuild: bool) -> Path:
    """A cached file of `total` messages, `heavy` of them person 1's; built once per schema."""
    path = CACHE / f"recall-{heavy}-{total}-{schema_key(DATA_VERSION)}.db"
    if path.exists() and not rebuild:
        print(f"   (cached: {path}; --rebuild to build it again)")
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"recall-{heavy}-{total}-*"):
        old.unlink()  # other schemas' files: up to a gigabyte or more each
    part = path.with_suffix(".part")
    started = time.perf_counter()
    asyncio.run(create_store(part))
    db = sqlite3.connect(part)
    with db:
        db.execute("PRAGMA journal_mode = DELETE")  # one writer, nothing to recover: no WAL
        db.execute("PRAGMA synchronous = OFF")
        db.create_function("recall_terms", 2, recall_terms, deterministic=True)
        populate(db, heavy, total)
        # As the store's background batches index every chat turn it writes.
        db.execute(
            "INSERT INTO recall_fts (rowid, terms, conversation_id, chat_id)"
            " SELECT id, recall_terms(user_id, text), conversation_id, chat_id FROM messages"
            " WHERE kind = 'chat'"
        )
        db.execute("UPDATE recall_indexed SET through = (SELECT max(id) FROM messages)")
    db.close()
    part.rename(path)
    size = path.stat().st_size / 2**20
    print(f"   (built {path} in {time.perf_counter() - started:.0f} s, {size:,.0f} MiB)")
    return path


def populate(db: sqlite3.Connection, heavy: int, total: int) -> None:
    """Users, conversations and answered exchanges as the store writes them, in bulk."""
    rng = random.Random(11)
    others = max(1, (total - heavy) // PER_OTHER)
    counts = [heavy] + [(total - heavy) // others] * others
    langs = ["es"] + [("es", "en")[i % 2] for i in range(others)]
    topics = [rng.sample(sorted(TOPICS[lang]), 4) for lang in langs]
    # Conversations of ten exchanges, shuffled over time so people's messages interleave.
    convs = [u for u, n in enumerate(counts) for _ in range(max(1, n // (2 * EXCHANGES)))]
    rng.shuffle(convs)
    last = {u: c for c, u in enumerate(convs)}
    now = time.time()
    db.executemany(
        "INSERT INTO users (id, platform, platform_user_id, display_name, created_at)"
        " VALUES (?, 'bench', ?, 'Bench', ?)",
        ((u + 1, f"p{u}", now) for u in range(len(counts))),
    )
    db.executemany(
        "INSERT INTO conversations (id, user_id, chat_id, started_at, active)"
        " VALUES (?, ?, ?, ?, ?)",
        ((c + 1, u + 1, f"chat{u}", now, int(last[u] == c)) for c, u in enumerate(convs)),
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        mid = 0
        for c, u in enumerate(convs):
            at = now - 365 * 86400 + c * 600
            for _ in range(EXCHANGES):
                said = small_talk(rng, langs[u], topics[u])
                # A model's reply: longer than the message, on the same topics.
                reply = " ".join(small_talk(rng, langs[u], topics[u]) for _ in range(3))
                mid += 2
                yield mid - 1, u + 1, c + 1, f"chat{u}", "user", said, at, None
                yield mid, u + 1, c + 1, f"chat{u}", "assistant", reply, at + 5, mid - 1

    db.executemany(
        "INSERT INTO messages (id, user_id, conversation_id, chat_id, role, text, kind,"
        " outcome, tokens, created_at, reply_to)"
        " VALUES (?, ?, ?, ?, ?, ?, 'chat', 'ok', length(?6) / 4 + 1, ?, ?)",
        rows(),
    )


def add_vectors(path: Path, embedder: RandomEmbedder, people: Sequence[int]) -> None:
    """Vectors for every chat turn of `people`, as keep_vectors stores them; once per size.

    Only the people searched need them: a search reads its person's vectors alone.
    """
    db = sqlite3.connect(path)
    with db:
        if db.execute("SELECT 1 FROM embedded WHERE embedder = ?", (embedder.name,)).fetchone():
            return
        started = time.perf_counter()
        for uid in people:
            turns = db.execute(
                "SELECT id, conversation_id, chat_id FROM messages"
                " WHERE user_id = ? AND kind = 'chat' ORDER BY id",
                (uid,),
            ).fetchall()
            for at in range(0, len(turns), 10_000):
                batch = turns[at : at + 10_000]
                rows = embedder.unit(len(batch)).astype("<f4")
                db.executemany(
                    "INSERT INTO vectors (message_id, embedder, user_id, conversation_id,"
                    " chat_id, vector) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        (i, embedder.name, uid, conv, chat, row.tobytes())
                        for (i, conv, chat), row in zip(batch, rows, strict=True)
                    ),
                )
        # Everyone else's turns count as done: the indexer must not start on a backlog.
        db.execute(
            "INSERT INTO embedded (embedder, through) SELECT ?, max(id) FROM messages",
            (embedder.name,),
        )
    db.close()
    print(f"   (stored {embedder.name} vectors in {time.perf_counter() - started:.0f} s)")


async def timed(store: SqliteStore, user: int, text: str, vector: Any, name: str) -> float:
    started = time.perf_counter()
    await store.recall(
        user, search_words(text), exclude_conversation=0, vector=vector, embedder=name
    )
    return (time.perf_counter() - started) * 1000


async def recall_latency(path: Path, heavy: int, rounds: int, embedder: RandomEmbedder) -> None:
    asked = queries(random.Random(5), rounds + WARM)
    people = ((f"one person, {heavy:,}", HEAVY), (f"a person with {PER_OTHER:,}", TYPICAL))
    async with SqliteStore(path) as store:
        print("  full text alone")
        for label, user in people:
            times: dict[str, list[float]] = {}
            for n, (kind, text) in enumerate(asked):
                took = await timed(store, user, text, None, "")
                if n >= WARM:  # the first ones warm the page cache
                    times.setdefault(kind, []).append(took)
            flat = [t for ts in times.values() for t in ts]
            print(f"    {label:<22} {'all':<14} {spread(flat)}")
            for kind, ts in times.items():
                print(f"    {'':<22} {kind:<14} {spread(ts)}")
        print(f"  full text + vectors ({embedder.name}: exact scan, fused by rank)")
        vectors = [[float(x) for x in v] for v in embedder.unit(len(asked))]
        name = embedder.name
        first = await timed(store, HEAVY, asked[0][1], vectors[0], name)
        print(f"    {people[0][0]:<22} {'first search':<14} {first:7.2f} ms (loads its vectors)")
        for label, user in people:
            ts = [
                await timed(store, user, t, v, name)
                for (_, t), v in zip(asked, vectors, strict=True)
            ]
            print(f"    {label:<22} {'in a row':<14} {spread(ts[WARM:])}")
        # Many people talk at once: another person's search comes in between (few rounds:
        # each may reload every vector of the person).
        mixed = []
        for (_, text), vector in list(zip(asked, vectors, strict=True))[:MIXED]:
            await timed(store, TYPICAL, text, vector, name)
            mixed.append(await timed(store, HEAVY, text, vector, name))
        print(f"    {people[0][0]:<22} {'after another':<14} {spread(mixed)}")


async def engine_overhead(path: Path, heavy: int, rounds: int, embedder: RandomEmbedder) -> None:
    """Engine.reply per message with an instant model, on a copy (bench_engine's approach);
    each person's messages in a row."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "engine.db"
        copy_db(path, copy)
        for run, vectors in enumerate((None, embedder)):
            n = rounds if vectors is None else max(10, rounds // 5)
            asked = queries(random.Random(9), n + WARM)
            async with SqliteStore(copy) as store:
                engine = engine_on(store, fake_model(record=False), vectors)
                await engine.open()
                times: list[list[float]] = [[], []]
                for user, ts in zip((HEAVY, TYPICAL), times, strict=True):
                    chat = Chat(engine, user - 1, "es", first_id=(run + 1) * 10**7)
                    for i, (_, text) in enumerate(asked):
                        started = time.perf_counter()
                        await chat.say(text)
                        if i >= WARM:
                            ts.append((time.perf_counter() - started) * 1000)
                await engine.close()
            what = "full text alone" if vectors is None else f"with vectors ({vectors.name})"
            print(f"  {what}")
            print(f"    {f'one person, {heavy:,}':<22} {spread(times[0])}")
            print(f"    {f'a person with {PER_OTHER:,}':<22} {spread(times[1])}")


def run_latency(quick: bool, rebuild: bool, dims: int) -> None:
    heavy, total = (10_000, 50_000) if quick else (100_000, 1_000_000)
    print(f"\n2. Recall latency: {total:,} messages, {heavy:,} of them one person's")
    print("   store.recall() timed from Python through aiosqlite (its worker-thread hop included)")
    path = latency_db(heavy, total, rebuild)
    embedder = RandomEmbedder(dims)
    add_vectors(path, embedder, (HEAVY, TYPICAL))
    asyncio.run(recall_latency(path, heavy, 300 if quick else 2000, embedder))
    print("\n3. Engine overhead per message, recall on (Engine.reply, instant fake model)")
    asyncio.run(engine_overhead(path, heavy, 100 if quick else 500, embedder))
