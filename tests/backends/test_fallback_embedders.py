"""The embedders' share of model faults: the one retry policy and the start-up key check.

The OpenAI embedder retries with bot.models.retry (the SDK's own retries are off) and
both embedders check their key and model at start-up, through the real SDKs against
the fake servers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.runtime import open_embedder
from bot.models import OptionRefused
from bot.models.gemini import GeminiEmbedder
from bot.models.openai_compat import OpenAIEmbedder
from bot.ports import ModelUnavailable
from config.settings import Settings, SettingsError
from tests.fakes.gemini_server import Failure, FakeGeminiServer
from tests.fakes.openai_server import FakeOpenAIServer

KEY = "sk-good-key-1234567890"
WRONG = "sk-wrong-key-0987654321"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(embedding_dimensions=16, key=KEY) as srv:
        yield srv


def openai_embedder(srv: FakeOpenAIServer, **kw: object) -> OpenAIEmbedder:
    options: dict[str, object] = {"base_url": srv.base_url, "dimensions": 16, "backoff": 0.01}
    return OpenAIEmbedder(KEY, "fake-embed", **{**options, **kw})  # type: ignore[arg-type]


# -- the OpenAI embedder on the one retry policy ------------------------------------------


async def test_a_429_with_retry_after_is_waited_out_then_answered(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(429, retry_after_ms=None, retry_after="1")
    embedder = openai_embedder(server)
    with caplog.at_level(logging.WARNING, logger="bot.models.openai_compat.embed"):
        vectors = await embedder.embed(["hola", "adiós"])
    await embedder.close()
    assert len(vectors) == 2 and len(server.embedding_requests) == 2
    # The pause is the server's second plus at most 10% of jitter, never our backoff.
    found = re.search(r"HTTP 429: .*retrying in ([\d.]+)s \(attempt 2 of 5\)", caplog.text)
    assert found is not None, caplog.text
    assert 1.0 <= float(found.group(1)) <= 1.1


async def test_the_sdk_itself_retries_nothing(server: FakeOpenAIServer) -> None:
    server.fail_next(429, times=3)
    embedder = openai_embedder(server, retries=0)
    with pytest.raises(ModelUnavailable, match="HTTP 429"):
        await embedder.embed(["hola"])
    await embedder.close()
    assert len(server.embedding_requests) == 1  # max_retries=0 on the client: only ours count


async def test_a_retry_after_past_the_deadline_gives_up_at_once(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(503, retry_after_ms=None, retry_after="5")
    embedder = openai_embedder(server, deadline=2.0)
    with caplog.at_level(logging.WARNING), pytest.raises(ModelUnavailable, match="HTTP 503"):
        await embedder.embed(["hola"])
    await embedder.close()
    assert len(server.embedding_requests) == 1
    assert "giving up, the 2s deadline is near" in caplog.text


# -- start-up checks: OpenAI ---------------------------------------------------------------


async def test_an_openai_embedding_key_the_server_refuses_is_refused_at_open(
    server: FakeOpenAIServer,
) -> None:
    embedder = OpenAIEmbedder(WRONG, "fake-embed", base_url=server.base_url, dimensions=16)
    with pytest.raises(OptionRefused, match="HTTP 401") as refused:
        await embedder.open()
    await embedder.close()
    assert refused.value.option == "api_key" and WRONG not in str(refused.value)
    assert server.embedding_requests == []  # refused at open, before any embedding


async def test_an_openai_embedding_model_the_server_lacks_is_refused_at_open() -> None:
    async with FakeOpenAIServer(models=("text-embedding-3-small",)) as srv:
        embedder = OpenAIEmbedder("k", "text-embedding-9", base_url=srv.base_url, dimensions=8)
        with pytest.raises(OptionRefused, match="does not exist") as refused:
            await embedder.open()
        await embedder.close()
    assert refused.value.option == "model"


async def test_an_openai_embedding_server_without_the_route_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeOpenAIServer(retrieve=False, embedding_dimensions=8) as srv:
        embedder = OpenAIEmbedder(None, "nomic-embed-text", base_url=srv.base_url, dimensions=8)
        with caplog.at_level(logging.WARNING):
            await embedder.open()
        assert len(await embedder.embed(["hola"])) == 1
        await embedder.close()
    assert "starting anyway" in caplog.text


# -- start-up checks: Gemini ----------------------------------------------------------------


async def test_a_gemini_embedding_key_the_server_refuses_is_refused_at_open() -> None:
    async with FakeGeminiServer(key=KEY) as srv:
        embedder = GeminiEmbedder(WRONG, base_url=srv.base_url)
        with pytest.raises(OptionRefused, match="API key not valid") as refused:
            await embedder.open()
        await embedder.close()
    assert refused.value.option == "api_key" and WRONG not in str(refused.value)
    assert srv.lookups == ["gemini-embedding-001"] and srv.requests == []


async def test_an_unknown_gemini_embedding_model_is_refused_at_open() -> None:
    async with FakeGeminiServer(models=("gemini-embedding-001",)) as srv:
        embedder = GeminiEmbedder(KEY, "text-embedding-999", base_url=srv.base_url)
        with pytest.raises(OptionRefused, match="'text-embedding-999'") as refused:
            await embedder.open()
        await embedder.close()
    assert refused.value.option == "model"


async def test_a_gemini_server_failing_at_the_check_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeGeminiServer() as srv:
        srv.lookup = Failure(503, "The model is overloaded.")
        embedder = GeminiEmbedder(KEY, base_url=srv.base_url)
        with caplog.at_level(logging.WARNING):
            await embedder.open()
        assert len(await embedder.embed(["hola"])) == 1
        await embedder.close()
    assert "503 UNAVAILABLE" in caplog.text and "starting anyway" in caplog.text


# -- the composition root names the variable --------------------------------------------


@pytest.mark.parametrize(
    ("models", "key", "variable"),
    [(None, WRONG, "GEMINI_API_KEY"), (("gemini-flash-latest",), KEY, "GEMINI_EMBEDDING_MODEL")],
    ids=["key", "model"],
)
async def test_open_embedder_names_the_variable_to_fix(
    models: tuple[str, ...] | None, key: str, variable: str, tmp_path: Path
) -> None:
    async with FakeGeminiServer(key=KEY, models=models) as srv:
        env: dict[str, Any] = {
            "TERTULIA_DB": tmp_path / "t.db",
            "TERTULIA_EMBEDDER": "gemini",
            "GEMINI_API_KEY": key,
            "GEMINI_BASE_URL": srv.base_url,
        }
        settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
        embedder = GeminiEmbedder(key, base_url=srv.base_url)
        with pytest.raises(SettingsError) as refused:
            await open_embedder(embedder, settings)
    assert str(refused.value).startswith(f"{variable}: ")
