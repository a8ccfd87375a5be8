"""`tertulia telegram` as a real process: answers, survives a restart, refuses bad tokens, drains.

The model is the fake OpenAI server, the store a real SQLite file, Telegram the fake Bot API.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env, kill, start_cli, stop

# What a process that did not close its resources prints on its way out.
NOISE = ("Unclosed client session", "Unclosed connector", "Traceback", "Task was destroyed")


def adapter_env(
    api: FakeTelegramAPI, model: FakeOpenAIServer, db: Path, **extra: str
) -> dict[str, str]:
    return {
        **clean_env(),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.root,
        "TERTULIA_DB": str(db),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "x",
        "TERTULIA_LOG_LEVEL": "INFO",
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


async def start_adapter(
    api: FakeTelegramAPI, model: FakeOpenAIServer, db: Path, log: Path, **extra: str
) -> asyncio.subprocess.Process:
    env = adapter_env(api, model, db, **extra)
    return await start_cli("telegram", env, log=log, stdout=asyncio.subprocess.DEVNULL)


async def stop_adapter(proc: asyncio.subprocess.Process, log: Path) -> int:
    return await stop(proc, 15, log)


async def exit_of(env: dict[str, str]) -> tuple[int, list[str]]:
    """Run `tertulia telegram` to its end: the exit code and the lines on stderr."""
    proc = await start_cli("telegram", env, stdout=asyncio.subprocess.DEVNULL,
                           stderr=asyncio.subprocess.PIPE)  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await kill(proc)
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()


async def test_adapter_process_answers_and_answers_a_redelivery_once(tmp_path: Path) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapter.log"
    async with FakeTelegramAPI() as api, FakeOpenAIServer("Hola, ¿qué tal?") as model:
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            first = api.push_text(42, 42, "hola", language_code="es")
            await api.wait_for(lambda: api.texts(42) == ["Hola, ¿qué tal?"], timeout=15)
            assert api.commands_for("es"), "the Spanish menu was registered"
        finally:
            code = await stop_adapter(proc, log)
        assert code == 0, log.read_text()

        # After a restart Telegram may deliver the same message again: answered once.
        polls = len(api.calls_of("getUpdates"))
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: len(api.calls_of("getUpdates")) > polls, timeout=30)
            api.push_update({"message": first})
            api.push_text(42, 42, "otra vez", language_code="es")
            await api.wait_for(lambda: len(api.texts(42)) == 2, timeout=15)
        finally:
            code = await stop_adapter(proc, log)
        assert code == 0, log.read_text()
    assert api.texts(42) == ["Hola, ¿qué tal?", "Hola, ¿qué tal?"]
    assert len(model.requests) == 2  # "hola" was not sent to the model twice
    logged = log.read_text()
    assert "duplicate telegram message" in logged
    assert api.token not in logged  # request URLs contain the token
    assert "hola" not in logged  # nor is user text logged at INFO
    assert not [n for n in NOISE if n in logged], logged


async def test_a_token_telegram_refuses_exits_2_with_one_line(tmp_path: Path) -> None:
    async with FakeTelegramAPI() as api, FakeOpenAIServer() as model:
        wrong = "123456:WRONG-token"  # well formed, but not this bot's: getMe says 401
        env = adapter_env(api, model, tmp_path / "t.db", TELEGRAM_BOT_TOKEN=wrong)
        del env["TERTULIA_LOG_LEVEL"]  # what an operator sees by default
        code, lines = await exit_of(env)
    assert code == 2, lines  # a config error: the supervisor does not restart it
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0], lines
    assert wrong not in lines[0]
    assert api.errors == [("getMe", 401, "Unauthorized")]  # asked once, then gave up
    assert not [n for n in NOISE if n in "\n".join(lines)]


async def test_a_malformed_token_exits_2_before_calling_telegram(tmp_path: Path) -> None:
    async with FakeTelegramAPI() as api, FakeOpenAIServer() as model:
        env = adapter_env(api, model, tmp_path / "t.db", TELEGRAM_BOT_TOKEN="not-a-token")
        code, lines = await exit_of(env)
    assert code == 2, lines
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0], lines
    assert "not-a-token" not in lines[0]
    assert api.calls == []


async def test_sigterm_during_a_streamed_reply_lets_it_finish(tmp_path: Path) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapter.log"
    answer = " ".join(f"word{i}" for i in range(60))  # 40 chunks, 50 ms apart: about 2 s
    async with (
        FakeTelegramAPI() as api,
        FakeOpenAIServer(answer, chunk=10, chunk_delay=0.05) as model,
    ):
        proc = await start_adapter(api, model, db, log, TERTULIA_EDIT_INTERVAL="0.2")
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            api.push_text(42, 42, "tell me a long story")
            await api.wait_for(lambda: api.bot_messages(42), timeout=15)
            shown = api.texts(42)[0]
        finally:
            code = await stop_adapter(proc, log)  # SIGTERM while the model still streams
    logged = log.read_text()
    assert len(shown) < len(answer)  # the signal came mid-reply
    assert code == 0, logged
    assert api.texts(42) == [answer], logged
    assert not [n for n in NOISE if n in logged], logged
