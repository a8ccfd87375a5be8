"""GeminiModel through the real google-genai client against the fake Gemini server."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from google import genai
from google.genai import types

from bot.models import rough_tokens
from bot.models.gemini import (
    DEFAULT_BASE_URL,
    DEFAULT_CONTEXT_TOKENS,
    GeminiModel,
    context_window,
    env_proxy,
)
from bot.ports import ChatModel, ModelBlocked, ModelError, ModelUnavailable
from bot.types import Image, Turn
from tests.fakes.gemini_server import BlockedPrompt, Failure, FakeGeminiServer, Hang, Reply

KEY = "test-key-not-a-secret"
MakeModel = Callable[..., GeminiModel]


@pytest.fixture
async def make_model(srv: FakeGeminiServer) -> AsyncIterator[MakeModel]:
    made: list[GeminiModel] = []

    def make(**kwargs: Any) -> GeminiModel:
        options: dict[str, Any] = {"base_url": srv.base_url, "timeout": 2.0, "backoff": 0.01}
        model = GeminiModel(KEY, **{**options, **kwargs})
        made.append(model)
        return model

    yield make
    for model in made:
        await model.close()


async def collect(model: GeminiModel, turns: list[Turn], system: str = "Be brief.") -> list[str]:
    return [chunk async for chunk in model.stream(system, turns)]


HELLO = [Turn("user", "hi"), Turn("assistant", "hello!"), Turn("user", "how are you?")]


async def test_stream_yields_chunks_in_order_and_sends_system_roles_and_key(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=("I am ", "fine, ", "thanks.")))
    model = make_model(model="gemini-2.5-flash", max_output_tokens=77)

    chunks = await collect(model, HELLO, system="You are Tertulia.")

    assert chunks == ["I am ", "fine, ", "thanks."]
    [req] = srv.requests
    assert (req.model, req.action, req.query.get("alt")) == (
        "gemini-2.5-flash",
        "streamGenerateContent",
        "sse",
    )
    assert req.headers["x-goog-api-key"] == KEY
    assert req.body["systemInstruction"]["parts"] == [{"text": "You are Tertulia."}]
    assert [(c["role"], c["parts"]) for c in req.body["contents"]] == [
        ("user", [{"text": "hi"}]),
        ("model", [{"text": "hello!"}]),
        ("user", [{"text": "how are you?"}]),
    ]
    assert req.body["generationConfig"]["maxOutputTokens"] == 77


async def test_one_client_serves_many_streams(srv: FakeGeminiServer, make_model: MakeModel) -> None:
    srv.script(Reply(chunks=("one",)), Reply(chunks=("two",)))
    model = make_model()
    assert await collect(model, HELLO) == ["one"]
    assert await collect(model, HELLO) == ["two"]
    assert len(srv.requests) == 2


async def test_429_with_retry_info_is_retried_after_the_servers_delay(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Failure(429, "quota", retry_delay="0.05s"), Reply(chunks=("ok",)))
    # A huge backoff: only honouring RetryInfo lets this finish inside the guard below.
    model = make_model(backoff=30.0)

    async with asyncio.timeout(10):
        chunks = await collect(model, HELLO)

    assert chunks == ["ok"]
    assert len(srv.requests) == 2
    assert srv.requests[1].at - srv.requests[0].at >= 0.05


async def test_429_asking_for_a_long_wait_is_not_retried(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    # A spent daily quota: retrying before the server's delay would only burn quota.
    srv.script(Failure(429, "daily quota", retry_delay="3600s"), Reply(chunks=("never",)))

    with pytest.raises(ModelUnavailable) as info:
        async with asyncio.timeout(10):
            await collect(make_model(retries=4), HELLO)

    assert "429" in str(info.value)
    assert len(srv.requests) == 1


async def test_503_then_success_uses_backoff_and_logs_no_key(
    srv: FakeGeminiServer, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    srv.script(Failure(503, f"overloaded (key {KEY})"), Reply(chunks=("back",)))
    caplog.set_level(logging.DEBUG, logger="bot.models.gemini")

    assert await collect(make_model(), HELLO) == ["back"]

    assert len(srv.requests) == 2
    assert "503" in caplog.text
    assert KEY not in caplog.text


async def test_exhausted_5xx_raises_unavailable_after_retries_plus_one(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(*[Failure(500, "boom")] * 5)

    with pytest.raises(ModelUnavailable) as info:
        await collect(make_model(retries=2), HELLO)

    assert len(srv.requests) == 3
    assert "500" in str(info.value)


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_client_errors_raise_model_error_without_retry(
    srv: FakeGeminiServer, make_model: MakeModel, status: int
) -> None:
    # A server echoing the key back must not put it into our error.
    srv.script(Failure(status, f"API key {KEY} not valid. Please pass a valid API key."))

    with pytest.raises(ModelError) as info:
        await collect(make_model(retries=3), HELLO)

    assert not isinstance(info.value, ModelUnavailable | ModelBlocked)
    assert len(srv.requests) == 1
    assert str(status) in str(info.value)
    assert KEY not in str(info.value)


async def test_safety_finish_without_text_raises_blocked(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=(), finish_reason="SAFETY"))

    with pytest.raises(ModelBlocked):
        await collect(make_model(), HELLO)
    assert len(srv.requests) == 1


async def test_safety_after_streamed_text_raises_blocked_without_retry(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=("Sure, here", " is how"), finish_reason="PROHIBITED_CONTENT"))
    got: list[str] = []

    with pytest.raises(ModelBlocked):
        async for chunk in make_model().stream("", HELLO):
            got.append(chunk)

    assert got == ["Sure, here", " is how"]
    assert len(srv.requests) == 1


async def test_blocked_prompt_raises_blocked(srv: FakeGeminiServer, make_model: MakeModel) -> None:
    srv.script(BlockedPrompt("PROHIBITED_CONTENT"))

    with pytest.raises(ModelBlocked) as info:
        await collect(make_model(), HELLO)

    assert "PROHIBITED_CONTENT" in str(info.value)
    assert len(srv.requests) == 1


async def test_no_first_chunk_in_time_is_retried_then_unavailable(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Hang(30), Hang(30))

    with pytest.raises(ModelUnavailable) as info:
        async with asyncio.timeout(10):  # fail fast, not at the fake's 30 s, if unbounded
            await collect(make_model(timeout=0.2, retries=1), HELLO)

    assert len(srv.requests) == 2
    assert "timed out" in str(info.value)


async def test_a_slow_first_chunk_then_success_on_retry(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=("late",), delay=30), Reply(chunks=("on time",)))
    async with asyncio.timeout(10):
        assert await collect(make_model(timeout=1.0, retries=1), HELLO) == ["on time"]
    assert len(srv.requests) == 2


async def test_stall_after_first_chunk_is_not_retried(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=("partial",), stall=30), Reply(chunks=("partial", "again")))
    got: list[str] = []

    with pytest.raises(ModelUnavailable):
        async with asyncio.timeout(10):
            async for chunk in make_model(timeout=0.2, retries=3).stream("", HELLO):
                got.append(chunk)

    # Retrying now would repeat text the user has already seen.
    assert got == ["partial"]
    assert len(srv.requests) == 1


async def test_a_reply_longer_than_timeout_is_not_cut(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=("a", "b", "c", "d", "e", "f"), delay=0.1))
    # Each gap is well inside the timeout; the whole answer is not.
    assert await collect(make_model(timeout=0.3), HELLO) == ["a", "b", "c", "d", "e", "f"]


async def test_connection_refused_raises_unavailable(make_model: MakeModel) -> None:
    async with FakeGeminiServer() as gone:
        url = gone.base_url
    model = make_model(base_url=url, retries=1)

    with pytest.raises(ModelUnavailable):
        await collect(model, HELLO)


async def test_dropped_connections_are_retried_by_us_alone(make_model: MakeModel) -> None:
    # A server that hangs up on every request. Unless told not to, the SDK quietly sleeps
    # 1-10 s and reconnects once: each connection must be one of our attempts. With its
    # sleep, the test fails either by extra connections or by the 10 s guard.
    connections = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ModelUnavailable):
            async with asyncio.timeout(10):
                model = make_model(base_url=f"http://127.0.0.1:{port}", retries=2, timeout=5)
                await collect(model, HELLO)
    finally:
        server.close()
        await server.wait_closed()

    assert connections == 3


async def test_image_turn_sends_inline_data(srv: FakeGeminiServer, make_model: MakeModel) -> None:
    png = b"\x89PNG\r\n\x1a\nfake-pixels"
    turn = Turn("user", "what is this?", images=(Image(png, "image/png"),))

    assert await collect(make_model(), [turn]) == ["Hello"]

    [part_image, part_text] = srv.requests[0].body["contents"][0]["parts"]
    inline = part_image["inlineData"]
    # google-genai 3.6 spells it `mime_type` here; the API's JSON parser takes both spellings.
    assert inline.get("mimeType", inline.get("mime_type")) == "image/png"
    assert base64.b64decode(inline["data"]) == png
    assert part_text == {"text": "what is this?"}


async def test_thought_summaries_are_not_part_of_the_reply(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=("42",), thoughts=("Let me think about the question...",)))
    assert await collect(make_model(), HELLO) == ["42"]


async def test_empty_system_prompt_is_not_sent(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    await collect(make_model(), HELLO, system="")
    assert "systemInstruction" not in srv.requests[0].body


async def test_output_budget_spent_without_text_is_a_model_error(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=(), finish_reason="MAX_TOKENS"))

    with pytest.raises(ModelError) as info:
        await collect(make_model(), HELLO)

    assert not isinstance(info.value, ModelUnavailable | ModelBlocked)
    assert len(srv.requests) == 1


async def test_an_empty_answer_is_a_model_error(
    srv: FakeGeminiServer, make_model: MakeModel
) -> None:
    srv.script(Reply(chunks=()))

    with pytest.raises(ModelError) as info:
        await collect(make_model(), HELLO)

    assert "empty" in str(info.value)


def test_context_tokens_from_known_prefixes_and_safe_default() -> None:
    assert context_window("gemini-1.5-pro-002") == 2_097_152
    assert context_window("models/gemini-2.5-flash") == 1_048_576
    assert context_window("gemma-3n-e4b-it") == 32_768
    assert context_window("gemma-3-27b-it") == 131_072
    assert context_window("some-model-from-2030") == DEFAULT_CONTEXT_TOKENS


async def test_model_satisfies_the_chat_model_port(make_model: MakeModel) -> None:
    model: ChatModel = make_model(model="gemini-2.0-flash")
    assert (model.backend, model.model, model.accepts_images) == (
        "gemini",
        "gemini-2.0-flash",
        True,
    )
    assert model.context_tokens == 1_048_576
    assert model.estimate_tokens("x" * 400) == rough_tokens("x" * 400)


async def test_fake_answers_generate_content_and_count_tokens(srv: FakeGeminiServer) -> None:
    # Other suites use the fake's non-streaming routes: check them with the real SDK.
    srv.script(Reply(chunks=("Hel", "lo")))
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=srv.base_url))
    try:
        answer = await client.aio.models.generate_content(
            model="gemini-flash-latest", contents="hi"
        )
        count = await client.aio.models.count_tokens(model="gemini-flash-latest", contents="a b c")
    finally:
        await client.aio.aclose()
        client.close()

    assert answer.text == "Hello"
    assert count.total_tokens is not None and count.total_tokens > 0
    assert [r.action for r in srv.requests] == ["generateContent", "countTokens"]


def test_the_proxy_comes_from_the_environment_once_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert env_proxy(DEFAULT_BASE_URL) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert env_proxy(DEFAULT_BASE_URL) == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "googleapis.com")
    assert env_proxy(DEFAULT_BASE_URL) is None
