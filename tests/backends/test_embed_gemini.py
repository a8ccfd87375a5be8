"""GeminiEmbedder through the real google-genai client against the fake Gemini server."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.models import EMBEDDERS, make_embedder
from bot.models.gemini import GeminiEmbedder
from bot.ports import Embedder, ModelError, ModelUnavailable
from tests.fakes.gemini_server import Failure, FakeGeminiServer, Hang
from tests.fakes.vectors import cosine, fake_embedding

KEY = "test-key-not-a-secret"
MakeEmbedder = Callable[..., GeminiEmbedder]


@pytest.fixture
async def make(srv: FakeGeminiServer) -> AsyncIterator[MakeEmbedder]:
    made: list[GeminiEmbedder] = []

    def build(**kwargs: Any) -> GeminiEmbedder:
        options: dict[str, Any] = {"base_url": srv.base_url, "timeout": 2.0, "backoff": 0.01}
        embedder = GeminiEmbedder(KEY, **{**options, **kwargs})
        made.append(embedder)
        return embedder

    yield build
    for embedder in made:
        await embedder.close()


def texts_per_call(srv: FakeGeminiServer) -> list[int]:
    return [len(r.body["requests"]) for r in srv.embed_requests]


async def test_vectors_come_back_in_order_with_the_asked_size(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    texts = ["Mi perro se llama Toby", "¿Cómo se llama mi perro?", "El precio del petróleo subió"]
    embedder = make(dimensions=64)

    vectors = await embedder.embed(texts)

    assert (embedder.name, embedder.dimensions) == ("gemini/gemini-embedding-001@64", 64)
    # The fake answers 0.8-long vectors at reduced sizes, as the real model does: we rescale.
    assert vectors == [pytest.approx(fake_embedding(t, 64)) for t in texts]
    assert all(math.isclose(cosine(v, v), 1.0) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    [call] = srv.embed_requests
    assert (call.model, call.action) == ("gemini-embedding-001", "batchEmbedContents")
    assert call.headers["x-goog-api-key"] == KEY
    first = call.body["requests"][0]
    assert first["content"]["parts"] == [{"text": texts[0]}]
    assert (first["taskType"], first["outputDimensionality"]) == ("RETRIEVAL_DOCUMENT", 64)


async def test_a_query_is_embedded_with_the_query_task_type(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    await make().embed(["¿Dónde vive Ana?"], query=True)
    await make().embed(["Ana vive en Sevilla"])

    types = [[r["taskType"] for r in call.body["requests"]] for call in srv.embed_requests]
    assert types == [["RETRIEVAL_QUERY"], ["RETRIEVAL_DOCUMENT"]]


async def test_a_large_list_is_split_into_calls_of_at_most_100(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    texts = [f"mensaje número {i}" for i in range(250)]

    vectors = await make(dimensions=16).embed(texts)

    assert texts_per_call(srv) == [100, 100, 50]
    assert vectors == [pytest.approx(fake_embedding(t, 16)) for t in texts]


async def test_a_smaller_batch_size_is_honoured_and_bounded(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    assert len(await make(batch_size=3).embed([str(i) for i in range(7)])) == 7
    assert texts_per_call(srv) == [3, 3, 1]
    with pytest.raises(ValueError, match="batch_size"):
        make(batch_size=101)


async def test_nothing_to_embed_sends_nothing(srv: FakeGeminiServer, make: MakeEmbedder) -> None:
    assert await make().embed([]) == []
    assert srv.requests == []


async def test_each_text_keeps_its_own_vector_on_a_multimodal_model(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    # Handed bare strings, the SDK merges them into one content for gemini-embedding-2.
    vectors = await make(model="gemini-embedding-2", dimensions=8).embed(["uno", "dos", "tres"])

    assert len(vectors) == 3
    assert texts_per_call(srv) == [3]


async def test_429_with_retry_info_is_retried_after_the_servers_delay(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    srv.script(Failure(429, "quota", retry_delay="0.05s"))
    # A huge backoff: only honouring RetryInfo lets this finish inside the guard below.
    async with asyncio.timeout(10):
        vectors = await make(backoff=30.0).embed(["hola"])

    assert len(vectors) == 1
    first, second = srv.embed_requests
    assert second.at - first.at >= 0.05


async def test_a_server_error_that_persists_is_unavailable(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    srv.script(*[Failure(500, "boom")] * 5)

    with pytest.raises(ModelUnavailable, match="500"):
        await make(retries=2).embed(["hola"])

    assert len(srv.embed_requests) == 3


async def test_no_answer_in_time_is_retried_then_unavailable(
    srv: FakeGeminiServer, make: MakeEmbedder
) -> None:
    srv.script(Hang(30), Hang(30))

    with pytest.raises(ModelUnavailable, match="timed out"):
        async with asyncio.timeout(10):
            await make(timeout=0.2, retries=1).embed(["hola"])

    assert len(srv.embed_requests) == 2


async def test_a_refused_connection_is_unavailable(make: MakeEmbedder) -> None:
    async with FakeGeminiServer() as gone:
        url = gone.base_url

    with pytest.raises(ModelUnavailable):
        await make(base_url=url, retries=1).embed(["hola"])


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_a_rejected_request_is_a_model_error_without_the_key(
    srv: FakeGeminiServer, make: MakeEmbedder, status: int
) -> None:
    srv.script(Failure(status, f"API key {KEY} not valid. Please pass a valid API key."))

    with pytest.raises(ModelError) as info:
        await make(retries=3).embed(["hola"])

    assert not isinstance(info.value, ModelUnavailable)
    assert f"Gemini embeddings refused the request: {status}" in str(info.value)
    assert KEY not in str(info.value)
    assert len(srv.embed_requests) == 1


async def test_more_than_the_api_allows_is_refused_by_the_fake_too(srv: FakeGeminiServer) -> None:
    # Guards the fake: the batching test means something only if 101 texts would fail.
    embedder = GeminiEmbedder(KEY, base_url=srv.base_url, retries=0)
    embedder._batch_size = 101  # past the constructor's check, to reach the server
    with pytest.raises(ModelError, match="at most 100"):
        await embedder.embed(["x"] * 101)
    await embedder.close()


async def test_the_registry_builds_it_and_it_satisfies_the_port(srv: FakeGeminiServer) -> None:
    assert set(EMBEDDERS) == {"gemini", "openai", "local"}
    embedder: Embedder = make_embedder("gemini", api_key=KEY, base_url=srv.base_url)
    await embedder.open()
    assert isinstance(embedder, GeminiEmbedder)
    assert embedder.dimensions == 768
    assert len((await embedder.embed(["hola"], query=True))[0]) == 768
    await embedder.close()
    await embedder.close()  # twice is harmless
