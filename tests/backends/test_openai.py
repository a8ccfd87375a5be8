"""OpenAIModel through the real openai SDK against the fake chat completions server."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator

import openai
import pytest

from bot.models.openai_compat import OpenAIModel, context_window, vision_capable
from bot.ports import ModelBlocked, ModelError, ModelUnavailable
from bot.types import Image, Turn
from tests.fakes.openai_server import FakeOpenAIServer

REPLY = "Hola! Soy tertulia, y esta respuesta llega en varios trozos."


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(REPLY, chunk=7) as srv:
        yield srv


async def collect(model: OpenAIModel, turns: list[Turn], system: str = "Be brief.") -> list[str]:
    return [chunk async for chunk in model.stream(system, turns)]


async def test_streams_reply_and_sends_system_roles_and_images(server: FakeOpenAIServer) -> None:
    model = OpenAIModel(None, "gpt-4o-mini", base_url=server.base_url, max_output_tokens=77)
    png = b"\x89PNG fake bytes"
    turns = [
        Turn("user", "hi"),
        Turn("assistant", "hello"),
        Turn("user", "what is this?", images=(Image(png, "image/png"),)),
    ]
    chunks = await collect(model, turns)
    await model.close()

    assert "".join(chunks) == REPLY
    assert len(chunks) > 1  # really streamed, not one blob
    body = server.requests[0]
    assert body["model"] == "gpt-4o-mini"
    assert body["stream"] is True
    assert body["max_tokens"] == 77  # compatible servers get the classic field
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == "Be brief."
    assert msgs[1]["content"] == "hi"
    text_part, image_part = msgs[3]["content"]
    assert text_part == {"type": "text", "text": "what is this?"}
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png
    # No key configured (Ollama, llama-server): a placeholder, never an empty header.
    assert server.headers[0]["Authorization"] == "Bearer not-needed"


async def test_text_only_model_gets_no_image_parts(server: FakeOpenAIServer) -> None:
    model = OpenAIModel("k", "llama3.1:8b", base_url=server.base_url)
    assert model.accepts_images is False
    await collect(model, [Turn("user", "look", images=(Image(b"x"),))])
    await model.close()
    assert server.requests[0]["messages"][-1] == {"role": "user", "content": "look"}


async def test_rate_limit_once_is_retried(server: FakeOpenAIServer) -> None:
    server.fail_next(429, times=1)
    model = OpenAIModel("k", "gpt-4o-mini", base_url=server.base_url, retries=2)
    chunks = await collect(model, [Turn("user", "hi")])
    await model.close()
    assert "".join(chunks) == REPLY
    assert len(server.requests) == 2


async def test_server_error_forever_is_unavailable(server: FakeOpenAIServer) -> None:
    server.fail_next(500, times=10)
    model = OpenAIModel("k", "gpt-4o-mini", base_url=server.base_url, retries=3)
    with pytest.raises(ModelUnavailable, match="500"):
        await collect(model, [Turn("user", "hi")])
    await model.close()
    assert len(server.requests) == 4  # one try plus three retries: ours, the SDK's are off


async def test_bad_key_is_a_model_error_without_the_key(server: FakeOpenAIServer) -> None:
    key = "sk-proj-SECRET0123456789abcdef"
    server.fail_next(401, message=f"Incorrect API key provided: {key}")
    model = OpenAIModel(key, "gpt-4o-mini", base_url=server.base_url, retries=3)
    with pytest.raises(ModelError) as info:
        await collect(model, [Turn("user", "hi")])
    await model.close()
    assert not isinstance(info.value, ModelUnavailable)
    assert "401" in str(info.value)
    assert "SECRET" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(server.requests) == 1  # a 401 is not retried


async def test_other_client_error_keeps_a_short_reason(server: FakeOpenAIServer) -> None:
    server.fail_next(400, message="model 'nope' not found for sk-live-SECRET99887766\n" + "x" * 500)
    model = OpenAIModel("k", "nope", base_url=server.base_url)
    with pytest.raises(ModelError) as info:
        await collect(model, [Turn("user", "hi")])
    await model.close()
    assert not isinstance(info.value, ModelUnavailable)
    assert "model 'nope' not found" in str(info.value)
    assert "SECRET" not in str(info.value)
    assert len(str(info.value)) < 260


async def test_content_filter_is_blocked(server: FakeOpenAIServer) -> None:
    server.finish_reason = "content_filter"
    model = OpenAIModel("k", "gpt-4o-mini", base_url=server.base_url)
    with pytest.raises(ModelBlocked):
        await collect(model, [Turn("user", "something bad")])
    await model.close()


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAIModel("k", base_url=f"http://127.0.0.1:{port}/v1", retries=0, timeout=5)
    with pytest.raises(ModelUnavailable, match="cannot reach"):
        await collect(model, [Turn("user", "hi")])
    await model.close()


async def test_stopping_early_leaves_the_client_usable(server: FakeOpenAIServer) -> None:
    model = OpenAIModel("k", "gpt-4o-mini", base_url=server.base_url)
    gen = model.stream("", [Turn("user", "hi")])
    first = await anext(gen)
    await gen.aclose()
    assert REPLY.startswith(first)
    assert server.requests[0]["messages"] == [{"role": "user", "content": "hi"}]  # no empty system
    assert "".join(await collect(model, [Turn("user", "again")])) == REPLY
    await model.close()


async def test_official_api_gets_max_completion_tokens(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No base_url means api.openai.com (here redirected by the SDK's own env variable),
    # whose o-series and gpt-5 models reject the old max_tokens field.
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    model = OpenAIModel("k", "o4-mini", max_output_tokens=50)
    assert "".join(await collect(model, [Turn("user", "hi")])) == REPLY
    await model.close()
    assert server.requests[0]["max_completion_tokens"] == 50
    assert "max_tokens" not in server.requests[0]


@pytest.mark.parametrize(
    ("name", "vision"),
    [
        ("gpt-4o-mini", True),
        ("gpt-4.1-nano", True),
        ("gpt-5", True),
        ("o3", True),
        ("o4-mini", True),
        ("o3-mini", False),
        ("gpt-4o-audio-preview", False),
        ("gpt-3.5-turbo", False),
        ("llava:13b", True),
        ("gemma3:4b", True),
        ("llama3.2-vision", True),
        ("qwen2.5vl:7b", True),
        ("openrouter/openai/gpt-4o", True),
        ("ollama-thing", False),
        ("llama3.1:8b", False),
        ("", False),
        ("some-brand-new-model-2031", False),
    ],
)
def test_vision_names(name: str, vision: bool) -> None:
    assert vision_capable(name) is vision


def test_context_table_and_default() -> None:
    assert context_window("gpt-4o-mini") == 128_000
    assert context_window("gpt-4.1-mini") == 1_047_576
    assert context_window("gpt-4") == 8_192
    assert context_window("o1-mini") == 128_000
    assert context_window("mystery:latest") == 4_096
    model = OpenAIModel(None, "mystery", base_url="http://127.0.0.1:9/v1", context_tokens=32_000)
    assert model.context_tokens == 32_000
    assert model.backend == "openai" and model.model == "mystery"
    assert model.estimate_tokens("abcd" * 10) == 11


async def test_fake_server_plain_completion_models_and_callable_reply() -> None:
    # Other suites use the fake directly as an instant model: check its other endpoints.
    async with FakeOpenAIServer(lambda msgs: msgs[-1]["content"].upper()) as srv:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        done = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "echo me"}]
        )
        assert done.choices[0].message.content == "ECHO ME"
        assert [m.id async for m in client.models.list()] == ["fake-model"]
        srv.fail_next(503)
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=[])
        assert srv.pending_failures == 0
        await client.close()
