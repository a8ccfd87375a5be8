"""The aiohttp transport under python-telegram-bot: bodies, timeouts, errors and the proxy."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import BodyPartReader, web
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from yarl import URL

from adapters.telegram.http import AiohttpRequest, HttpSession, timeouts
from tests.fakes.telegram_api import FakeTelegramAPI

TOKEN = "123456:SECRET-token"


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """Records each multipart form (a file part as "filename:content"); /slow answers late."""
    seen: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.Response:
        if request.path.endswith("/slow"):
            await asyncio.sleep(0.3)  # past the client's 0.1 s; the fixture waits it out
            return web.json_response({"ok": True, "result": True})
        form: dict[str, str] = {}
        async for part in await request.multipart():
            assert isinstance(part, BodyPartReader)
            body = (await part.read()).decode()
            form[part.name or ""] = f"{part.filename}:{body}" if part.filename else body
        seen.append(form)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    await runner.cleanup()


async def test_ptb_calls_go_through_aiohttp() -> None:
    async with (
        FakeTelegramAPI() as api,
        Bot(api.token, base_url=api.base_url, request=AiohttpRequest(pool=4)) as bot,
    ):
        sent = await bot.send_message(42, "hola")
        assert sent.text == "hola" and api.texts(42) == ["hola"]


async def test_uploads_go_as_multipart_with_the_fields(
    echo: tuple[str, list[dict[str, str]]],
) -> None:
    root, seen = echo
    http = HttpSession(pool=2, user_agent="test")
    await http.open()
    try:
        upload = {"document": ("notes.txt", io.BytesIO(b"hello"), "text/plain")}
        status, _ = await http.call(
            "POST", f"{root}/upload", {"chat_id": "7"}, upload, read=5, write=5, connect=5, pool=1
        )
    finally:
        await http.close()
    assert status == 200
    assert seen == [{"chat_id": "7", "document": "notes.txt:hello"}]


async def test_a_slow_answer_is_timed_out(echo: tuple[str, list[dict[str, str]]]) -> None:
    root, _ = echo
    async with AiohttpRequest(pool=1) as request:
        with pytest.raises(TimedOut):
            await request.post(f"{root}/bot{TOKEN}/slow", read_timeout=0.1)


async def test_an_unreachable_api_is_a_network_error_without_the_token() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with AiohttpRequest(pool=1) as request:
        with pytest.raises(NetworkError) as info:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    assert TOKEN not in str(info.value) and not isinstance(info.value, TimedOut)


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    http = HttpSession(pool=1, user_agent="test")
    assert http._proxy(URL("https://api.telegram.org/botT/getMe")) == URL(
        "http://proxy.example:3128"
    )
    assert http._proxy(URL("http://127.0.0.1:8081/botT/getMe")) is None


def test_timeouts_not_given_are_ours_and_none_means_no_limit() -> None:
    unset = object()
    assert timeouts((unset,) * 4, upload=False, unset=unset) == (5.0, 5.0, 5.0, 1.0)
    assert timeouts((unset,) * 4, upload=True, unset=unset) == (5.0, 20.0, 5.0, 1.0)
    assert timeouts((30, None, unset, unset), upload=False, unset=unset) == (30, None, 5.0, 1.0)
