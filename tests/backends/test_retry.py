"""One retry policy for every remote backend: backoff, the server's delay, one deadline per reply."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx2
import openai
import pytest

from bot.models.gemini import GeminiModel
from bot.models.openai_compat import OpenAIModel
from bot.models.openai_compat.client import retry_after
from bot.models.retry import MAX_RETRY_DELAY, pause
from bot.ports import ModelUnavailable
from bot.types import Turn
from config.settings import Settings
from tests.fakes.gemini_server import FakeGeminiServer, Hang, Reply
from tests.fakes.openai_server import FakeOpenAIServer

HI = [Turn("user", "hi")]


async def collect(model: GeminiModel | OpenAIModel) -> list[str]:
    try:
        return [chunk async for chunk in model.stream("", HI)]
    finally:
        await model.close()


def test_the_servers_delay_wins_over_backoff_and_a_long_one_means_no_retry() -> None:
    assert 2.0 <= (pause(1, 30.0, 2.0) or 0) <= 2.2  # up to 10% more, so users do not stampede
    assert pause(1, 1.0, MAX_RETRY_DELAY + 1) is None  # a spent daily quota: do not burn more
    first, third = pause(1, 1.0, None) or 0, pause(3, 1.0, None) or 0
    assert 1.0 <= first <= 2.0 and 4.0 <= third <= 5.0  # doubling, plus up to one backoff
    assert pause(20, 1.0, None) == MAX_RETRY_DELAY


def test_retry_after_in_milliseconds_seconds_or_a_date() -> None:
    def error(**headers: str) -> openai.RateLimitError:
        request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
        response = httpx2.Response(429, headers=headers, request=request)
        return openai.RateLimitError("slow down", response=response, body=None)

    assert retry_after(error(**{"retry-after-ms": "250"})) == 0.25
    assert retry_after(error(**{"retry-after": "7"})) == 7.0
    date = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 18 <= (retry_after(error(**{"retry-after": date})) or 0) <= 20
    assert retry_after(error(**{"retry-after": "soon"})) is None
    assert retry_after(error()) is None
    assert retry_after(TimeoutError()) is None


def test_the_deadline_is_a_setting_every_remote_backend_gets() -> None:
    settings = Settings(_env_file=None, TERTULIA_MODEL_DEADLINE=45.0)  # type: ignore[call-arg]
    assert Settings(_env_file=None).model_deadline == 90.0  # type: ignore[call-arg]
    assert settings.backend_options("gemini")["deadline"] == 45.0
    assert settings.backend_options("openai")["deadline"] == 45.0
    assert "deadline" not in settings.backend_options("local")


# -- a model that never answers: the person waits for the deadline, not 5 attempts ------


async def test_a_gemini_model_that_never_answers_gives_up_at_the_deadline(
    srv: FakeGeminiServer,
) -> None:
    srv.default = Hang(30.0, Reply(("too late",)))
    model = GeminiModel("k", base_url=srv.base_url, timeout=60, retries=4, deadline=0.5)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="timed out"):
        await collect(model)
    assert time.monotonic() - started < 2.0
    assert len(srv.requests) == 1  # no retry whose pause would end past the deadline


async def test_an_openai_model_that_never_answers_gives_up_at_the_deadline() -> None:
    async with FakeOpenAIServer() as srv:
        srv.hangs = [30.0] * 5
        model = OpenAIModel("k", base_url=srv.base_url, timeout=60, retries=4, deadline=0.5)
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match="no answer in time"):
            await collect(model)
        assert time.monotonic() - started < 2.0
        assert len(srv.requests) == 1


async def test_gemini_timeouts_are_retried_inside_the_deadline(srv: FakeGeminiServer) -> None:
    srv.script(Hang(30.0), Hang(30.0), Reply(("at last",)))
    model = GeminiModel("k", base_url=srv.base_url, timeout=0.2, backoff=0.01, deadline=5)
    async with asyncio.timeout(5):
        assert await collect(model) == ["at last"]
    assert len(srv.requests) == 3


async def test_openai_timeouts_are_retried_inside_the_deadline() -> None:
    async with FakeOpenAIServer("at last") as srv:
        srv.hangs = [30.0, 30.0]
        model = OpenAIModel("k", base_url=srv.base_url, timeout=0.2, backoff=0.01, deadline=5)
        async with asyncio.timeout(5):
            assert await collect(model) == ["at last"]
        assert len(srv.requests) == 3


# -- rate limits and the server's Retry-After ---------------------------------------


async def test_openai_429_waits_the_servers_retry_after_not_the_backoff() -> None:
    async with FakeOpenAIServer("ok") as srv:
        srv.fail_next(429, retry_after_ms=None, retry_after="0.2")
        # A huge backoff: only honouring Retry-After lets this finish inside the guard.
        model = OpenAIModel("k", base_url=srv.base_url, backoff=30.0)
        started = time.monotonic()
        async with asyncio.timeout(10):
            assert await collect(model) == ["ok"]
        assert 0.2 <= time.monotonic() - started < 5
        assert len(srv.requests) == 2


async def test_openai_429_asking_for_a_long_wait_is_not_retried() -> None:
    async with FakeOpenAIServer() as srv:
        srv.fail_next(429, retry_after_ms=None, retry_after="3600")
        model = OpenAIModel("k", base_url=srv.base_url, retries=4)
        with pytest.raises(ModelUnavailable, match="429"):
            async with asyncio.timeout(10):
                await collect(model)
        assert len(srv.requests) == 1


async def test_a_retry_that_would_end_past_the_deadline_is_not_started() -> None:
    async with FakeOpenAIServer() as srv:
        srv.fail_next(503, retry_after_ms=None, retry_after="5")
        model = OpenAIModel("k", base_url=srv.base_url, retries=4, deadline=2.0)
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match="503"):
            await collect(model)
        assert time.monotonic() - started < 1.0 and len(srv.requests) == 1
