"""OpenAIEmbedder through the real openai SDK against the fake `/v1/embeddings` server."""

from __future__ import annotations

import math
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest

from bot.models import make_embedder
from bot.models.openai_compat import OpenAIEmbedder
from bot.models.openai_compat.embed import prefixes
from bot.ports import Embedder, ModelError, ModelUnavailable
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.vectors import cosine, fake_embedding

MakeEmbedder = Callable[..., OpenAIEmbedder]


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(embedding_dimensions=32) as srv:
        yield srv


@pytest.fixture
async def make(server: FakeOpenAIServer) -> AsyncIterator[MakeEmbedder]:
    made: list[OpenAIEmbedder] = []

    def build(model: str = "fake-embed", **kwargs: Any) -> OpenAIEmbedder:
        options: dict[str, Any] = {
            "api_key": "k",
            "base_url": server.base_url,
            "dimensions": 32,
            "retries": 2,
        }
        embedder = OpenAIEmbedder(model=model, **{**options, **kwargs})
        made.append(embedder)
        return embedder

    yield build
    for embedder in made:
        await embedder.close()


def inputs_per_call(server: FakeOpenAIServer) -> list[int]:
    return [len(body["input"]) for body in server.embedding_requests]


async def test_vectors_come_back_in_order_with_their_size(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    texts = ["Mi perro se llama Toby", "¿Cómo se llama mi perro?", "El precio del petróleo subió"]
    embedder = make()

    vectors = await embedder.embed(texts)

    assert (embedder.name, embedder.dimensions) == ("openai/fake-embed@32", 32)
    assert vectors == [pytest.approx(fake_embedding(t, 32)) for t in texts]
    assert all(math.isclose(cosine(v, v), 1.0) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    # Floats, not base64 (not every compatible server speaks it); no size field for a
    # model that cannot shorten its vectors.
    [body] = server.embedding_requests
    assert body == {"model": "fake-embed", "input": texts, "encoding_format": "float"}


async def test_a_large_list_is_split_into_requests_of_at_most_2048(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    texts = [f"mensaje {i}" for i in range(2100)]
    vectors = await make().embed(texts)
    assert inputs_per_call(server) == [2048, 52]
    assert vectors[2099] == pytest.approx(fake_embedding("mensaje 2099", 32))


async def test_a_smaller_batch_size_for_other_servers(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    assert len(await make(batch_size=3).embed([str(i) for i in range(8)])) == 8
    assert inputs_per_call(server) == [3, 3, 2]
    assert await make().embed([]) == []
    assert len(server.embedding_requests) == 3


async def test_openai_models_are_asked_for_a_shorter_size(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    short = make("text-embedding-3-small", dimensions=256)
    native = make("text-embedding-3-small", dimensions=None)

    assert len((await short.embed(["hola"]))[0]) == 256
    assert native.dimensions == 1536 and native.name == "openai/text-embedding-3-small@1536"
    server.embedding_dimensions = 1536
    assert len((await native.embed(["hola"]))[0]) == 1536
    assert [b.get("dimensions") for b in server.embedding_requests] == [256, None]


async def test_a_query_reaches_an_e5_or_nomic_server_with_its_prefix(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    # The embeddings API has no task type: models trained with prefixes get them in the text.
    e5 = make("jeffh/intfloat-multilingual-e5-small:f16")
    await e5.embed(["¿Cómo se llama mi perro?"], query=True)
    await e5.embed(["Mi perro se llama Toby"])
    await make("nomic-embed-text:v1.5").embed(["perro"], query=True)
    await make("text-embedding-3-small", dimensions=32).embed(["perro"], query=True)
    await make("multilingual-e5-small", query_prefix="").embed(["perro"], query=True)

    assert [b["input"][0] for b in server.embedding_requests] == [
        "query: ¿Cómo se llama mi perro?",
        "passage: Mi perro se llama Toby",
        "search_query: perro",
        "perro",
        "perro",
    ]
    assert prefixes("gpt-4o-e5x") == ("", "")


async def test_an_unknown_size_is_learnt_when_opened(server: FakeOpenAIServer) -> None:
    server.embedding_dimensions = 24
    embedder: Embedder = make_embedder(
        "openai", api_key=None, model="some-new-embedder", base_url=server.base_url
    )
    assert embedder.dimensions == 0

    await embedder.open()

    assert (embedder.name, embedder.dimensions) == ("openai/some-new-embedder@24", 24)
    assert len((await embedder.embed(["hola"]))[0]) == 24
    await embedder.close()


async def test_a_size_other_than_declared_is_a_model_error(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    server.embedding_dimensions = 1024
    with pytest.raises(ModelError, match="1024 dimensions, not 768"):
        await make("nomic-embed-text", dimensions=None).embed(["hola"])


async def test_rate_limit_once_is_retried_by_the_retry_policy(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    server.fail_next(429)
    assert len(await make().embed(["hola"])) == 1
    assert len(server.embedding_requests) == 2


async def test_a_server_error_that_persists_is_unavailable(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    server.fail_next(500, times=10)
    with pytest.raises(ModelUnavailable, match="500"):
        await make(retries=3).embed(["hola"])
    assert len(server.embedding_requests) == 4  # one try plus three retries (bot/models/retry.py)


async def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = OpenAIEmbedder("k", base_url=f"http://127.0.0.1:{port}/v1", retries=0)
    with pytest.raises(ModelUnavailable, match="cannot reach"):
        await embedder.embed(["hola"])
    await embedder.close()


async def test_a_bad_key_is_a_model_error_without_the_key(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    key = "sk-proj-SECRET0123456789abcdef"
    server.fail_next(401, message=f"Incorrect API key provided: {key}")
    with pytest.raises(ModelError) as info:
        await make(api_key=key).embed(["hola"])
    assert not isinstance(info.value, ModelUnavailable)
    assert str(info.value) == "openai embeddings: HTTP 401: the API key was rejected"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(server.embedding_requests) == 1  # a 401 is not retried


async def test_an_empty_text_is_refused_as_the_api_does(
    server: FakeOpenAIServer, make: MakeEmbedder
) -> None:
    with pytest.raises(ModelError, match="400") as info:
        await make().embed(["hola", ""])
    assert not isinstance(info.value, ModelUnavailable)


async def test_fake_answers_the_sdks_default_base64_and_a_single_string(
    server: FakeOpenAIServer,
) -> None:
    # Other suites may call the fake with the SDK's defaults: check that path decodes too.
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    many = await client.embeddings.create(model="m", input=["uno", "dos"])
    one = await client.embeddings.create(model="m", input="uno")
    await client.close()
    assert server.embedding_requests[0]["encoding_format"] == "base64"
    assert [d.embedding for d in many.data] == [
        pytest.approx(fake_embedding(t, 32), abs=1e-6) for t in ("uno", "dos")
    ]
    assert one.data[0].embedding == pytest.approx(many.data[0].embedding)
