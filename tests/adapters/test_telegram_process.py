"""`tertulia telegram` as a real process: answers, survives a restart, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env, start_cli, terminate


async def start_adapter(
    api: FakeTelegramAPI, model: FakeOpenAIServer, db: Path, log: Path
) -> asyncio.subprocess.Process:
    env = {
        **clean_env(),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.root,
        "TERTULIA_DB": str(db),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "x",
        "TERTULIA_LOG_LEVEL": "INFO",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with log.open("ab") as err:
        return await start_cli("telegram", env, stdout=asyncio.subprocess.DEVNULL, stderr=err)


async def stop_adapter(proc: asyncio.subprocess.Process, log: Path) -> int:
    try:
        await terminate(proc, 15)
    except TimeoutError:
        logged = await asyncio.to_thread(log.read_text)
        raise AssertionError(f"no clean stop on SIGTERM:\n{logged}") from None
    assert proc.returncode is not None
    return proc.returncode


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
    assert api.token not in logged  # httpx logs request URLs, which contain the token
    assert "hola" not in logged  # nor is user text logged at INFO
