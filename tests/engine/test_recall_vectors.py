"""Recall by meaning: background embedding, fusion with full text, the embedder's failures."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot.indexing import Indexer
from bot.models.gemini import GeminiEmbedder
from bot.ports import ModelError, ModelUnavailable
from storage.sqlite import SqliteStore
from tests.conftest import MakeEngine, collect, command, msg
from tests.engine.memory_model import MemoryModel
from tests.engine.test_memory import said
from tests.fakes.gemini_server import Failure, FakeGeminiServer
from tests.fakes.vectors import fake_embedding


class FakeEmbedder:
    """In-process vectors from tests.fakes.vectors; records every call."""

    name = "fake/hashed-64"
    dimensions = 64

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []
        self.failures: list[Exception] = []

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        self.calls.append((list(texts), query))
        if self.failures:
            raise self.failures.pop(0)
        return [fake_embedding(t, self.dimensions) for t in texts]


async def indexed(store: SqliteStore, embedder: FakeEmbedder) -> tuple[Indexer, list[float]]:
    """An indexer that has embedded what it could, with the pauses it asked for."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    indexer = Indexer(store, embedder, attempts=3, retry_after=7.0, sleep=sleep)
    indexer.kick()
    await indexer.idle()
    return indexer, slept


async def test_a_turn_found_only_by_meaning_reaches_a_later_conversation(
    make_engine: MakeEngine,
) -> None:
    # "perros" shares no whole word with "perro": full text alone cannot find it.
    question = "¿Cuántos perros caben?"
    for embedder in (None, FakeEmbedder()):
        model = MemoryModel()
        engine = make_engine(model, embedder=embedder)
        user = "words" if embedder is None else "meaning"
        await said(engine, msg("Mi perro Toby adora la playa", user=user))
        if engine.indexer is not None:
            await engine.indexer.idle()
        await collect(engine, command("/new", user=user))
        await said(engine, msg(question, user=user))
        found = "Mi perro Toby adora la playa" in model.chats[-1][0]
        assert found == (embedder is not None)


async def test_vectors_are_written_in_batches_off_the_reply_path(
    make_engine: MakeEngine, db_path: Path
) -> None:
    embedder = FakeEmbedder()
    engine = make_engine(MemoryModel(), embedder=embedder)
    assert engine.indexer is not None
    engine.indexer.batch = 4
    for i in range(5):
        await collect(engine, msg(f"mensaje número {i}"))
    # Nothing embedded on the reply path: one conversation has no earlier one to search.
    assert embedder.calls == []
    await engine.open()
    await engine.indexer.idle()
    batches = [texts for texts, q in embedder.calls if not q]
    assert [len(b) for b in batches] == [4, 4, 2]  # 5 turns and their 5 replies
    with sqlite3.connect(db_path) as raw:
        (count,) = raw.execute("SELECT count(*) FROM vectors").fetchone()
    assert count == 10
    await engine.close()


async def test_only_someone_with_earlier_conversations_costs_a_search_vector(
    make_engine: MakeEngine,
) -> None:
    embedder = FakeEmbedder()
    engine = make_engine(MemoryModel(), embedder=embedder)
    await collect(engine, msg("primera"))
    await collect(engine, command("/new"))
    await collect(engine, msg("segunda"))
    assert embedder.calls == [(["segunda"], True)]
    await engine.close()


async def test_the_embedder_down_leaves_recall_by_words(make_engine: MakeEngine) -> None:
    embedder = FakeEmbedder()
    model = MemoryModel()
    engine = make_engine(model, embedder=embedder)
    await said(engine, msg("Mi perro Toby adora la playa"))
    await collect(engine, command("/new"))
    embedder.failures.append(ModelUnavailable("embeddings down"))
    assert await said(engine, msg("¿Qué sabes de Toby?")) == "reply-2"
    assert "Mi perro Toby adora la playa" in model.chats[-1][0]
    await engine.close()


async def test_a_slow_embedder_does_not_hold_the_reply(make_engine: MakeEngine) -> None:
    class Slow(FakeEmbedder):
        async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
            await asyncio.sleep(30)
            return []

    engine = make_engine(MemoryModel(), embedder=Slow(), embed_timeout=0.05)
    assert await asyncio.wait_for(collect(engine, msg("hola")), 10) == "reply-1"
    await engine.close()


async def test_a_batch_the_embedder_keeps_refusing_is_passed_over(
    store: SqliteStore, make_engine: MakeEngine
) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, msg("uno"))
    embedder = FakeEmbedder()
    embedder.failures += [ModelError("400 this text is refused")] * 3
    indexer, slept = await indexed(store, embedder)
    assert slept == [7.0, 7.0] and await store.unembedded(embedder.name) == []
    await collect(engine, msg("dos"))
    indexer.kick()
    await indexer.idle()
    assert embedder.calls[-1][0] == ["dos", "reply-2"]
    await indexer.close()


async def test_forget_erases_vectors(make_engine: MakeEngine, db_path: Path) -> None:
    embedder = FakeEmbedder()
    engine = make_engine(MemoryModel(), embedder=embedder)
    await said(engine, msg("Mi perro Toby"))
    await said(engine, msg("Otra persona", user="u2"))
    assert engine.indexer is not None
    await engine.indexer.idle()
    await collect(engine, command("/forget confirm"))
    with sqlite3.connect(db_path) as raw:
        left = raw.execute("SELECT user_id FROM vectors").fetchall()
        (u2,) = raw.execute("SELECT id FROM users WHERE platform_user_id = 'u2'").fetchone()
    assert {u for (u,) in left} == {u2}
    await engine.close()


@pytest.fixture
async def gemini() -> AsyncIterator[FakeGeminiServer]:
    async with FakeGeminiServer() as server:
        yield server


async def test_recall_by_meaning_through_the_real_gemini_client(
    make_engine: MakeEngine, gemini: FakeGeminiServer
) -> None:
    embedder = GeminiEmbedder(
        "test-key-not-a-secret", base_url=gemini.base_url, dimensions=64, timeout=2.0, backoff=0.01
    )
    await embedder.open()
    model = MemoryModel()
    engine = make_engine(model, embedder=embedder)
    try:
        await said(engine, msg("Mi perro Toby adora la playa"))
        await engine.open()
        assert engine.indexer is not None
        await engine.indexer.idle()
        await collect(engine, command("/new"))
        await said(engine, msg("¿Cuántos perros caben?"))
        assert "Mi perro Toby adora la playa" in model.chats[-1][0]
        tasks = [r["taskType"] for req in gemini.embed_requests for r in req.body["requests"]]
        assert "RETRIEVAL_DOCUMENT" in tasks and "RETRIEVAL_QUERY" in tasks
        # The embedder failing (a 500 that persists) costs the reply nothing.
        gemini.script(*[Failure(500, "boom")] * 10)
        assert (await said(engine, msg("¿Y la playa?"))).startswith("reply-")
    finally:
        await engine.close()
        await embedder.close()


async def test_an_outage_passes_nothing_over(store: SqliteStore, make_engine: MakeEngine) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, msg("uno"))
    embedder = FakeEmbedder()
    embedder.failures += [ModelUnavailable("503")] * 5
    indexer, slept = await indexed(store, embedder)
    assert len(slept) == 5 and embedder.calls[-1][0] == ["uno", "reply-1"]
    await indexer.close()


async def test_a_vector_never_lands_on_a_message_that_reused_an_erased_ones_id(
    store: SqliteStore, make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, msg("secreto de x", user="x"))
    read = await store.unembedded("fake/hashed-64")
    await collect(engine, command("/forget confirm", user="x"))
    # Erased meanwhile; y's new turns take the freed ids.
    await collect(engine, msg("hola de y", user="y"))
    stale = [(i, user, fake_embedding(text, 64)) for i, user, text in read]
    await store.keep_vectors("fake/hashed-64", stale, through=read[-1][0])
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT count(*) FROM vectors").fetchone() == (0,)
    # y's turns are still waiting for their own vectors.
    assert [text for _, _, text in await store.unembedded("fake/hashed-64")] == [
        "hola de y",
        "reply-2",
    ]


class SlowEmbedder(FakeEmbedder):
    """Takes a moment per batch, as a remote embedder does: long enough for two processes
    reading the same unembedded turns to both pay for them, without the claim."""

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        await asyncio.sleep(0.02)
        return await super().embed(texts, query=query)


async def test_two_processes_on_one_file_never_embed_a_turn_twice(
    store: SqliteStore, make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(MemoryModel())
    for i in range(40):
        await collect(engine, msg(f"mensaje {i}", user=f"u{i % 4}"))
    embedders = [SlowEmbedder(), SlowEmbedder()]
    async with SqliteStore(db_path) as other:  # the other adapter process's store
        indexers = [
            Indexer(s, e, batch=8, poll=0.01)
            for s, e in zip((store, other), embedders, strict=True)
        ]
        for indexer in indexers:
            indexer.kick()  # both start at once, as `tertulia run`'s adapters do
        await asyncio.wait_for(asyncio.gather(*(i.idle() for i in indexers)), 20)
        for indexer in indexers:
            await indexer.close()
    embedded = [t for e in embedders for texts, _ in e.calls for t in texts]
    assert sorted(embedded) == sorted(set(embedded)) and len(embedded) == 80
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT count(*) FROM vectors").fetchone() == (80,)
        # Given up when done: the next turns may be embedded by either process at once.
        assert raw.execute("SELECT holder FROM embedded").fetchall() == [(None,)]


async def test_a_claim_left_by_a_process_that_died_is_taken_over(
    store: SqliteStore, make_engine: MakeEngine
) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, msg("uno"))
    embedder = FakeEmbedder()
    now = time.time()
    assert await store.claim_embedding(embedder.name, "dead-1", now=now, hold=0.3) == 0.0
    indexer = Indexer(store, embedder, poll=0.05)
    assert await store.claim_embedding(embedder.name, indexer.holder, now=now, hold=1) > now
    indexer.kick()
    await asyncio.wait_for(indexer.idle(), 10)
    assert embedder.calls == [(["uno", "reply-1"], False)]
    assert time.time() >= now + 0.3  # not before the dead one's claim ran out
    await indexer.close()


async def test_an_indexer_closed_while_claiming_leaves_no_claim_behind(
    store: SqliteStore, make_engine: MakeEngine, db_path: Path
) -> None:
    """close() may cancel the task while its claim is on its way: the statement still runs
    to its end, so the claim must be given up all the same, or the other process would wait
    out the whole hold before embedding anything."""
    await collect(make_engine(MemoryModel()), msg("uno"))
    for _ in range(10):
        indexer = Indexer(store, FakeEmbedder())
        indexer.kick()
        await asyncio.sleep(0)  # the task starts and asks for the claim
        await asyncio.sleep(0)
        await indexer.close()
        await asyncio.sleep(0.02)
        with sqlite3.connect(db_path) as raw:
            assert raw.execute("SELECT holder FROM embedded").fetchall() in ([], [(None,)])


async def test_an_embedding_call_never_outlives_the_claim(
    store: SqliteStore, make_engine: MakeEngine
) -> None:
    """A call that hangs is given up well inside the claim and tried again as an outage,
    so a process that takes an expired claim over never pays for the same batch twice."""

    class HangsOnce(FakeEmbedder):
        async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
            self.calls.append((list(texts), query))
            if len(self.calls) == 1:
                await asyncio.sleep(3600)
            return [fake_embedding(t, self.dimensions) for t in texts]

    await collect(make_engine(MemoryModel()), msg("uno"))
    embedder = HangsOnce()
    indexer = Indexer(store, embedder, retry_after=0.05, hold=0.2)
    indexer.kick()
    await asyncio.wait_for(indexer.idle(), 10)
    assert [texts for texts, _ in embedder.calls] == [["uno", "reply-1"]] * 2
    assert await store.unembedded(embedder.name) == []
    await indexer.close()
