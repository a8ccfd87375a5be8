"""`tertulia discord` as a real process: the fake Discord, the fake OpenAI server, real SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fakes.discord_api import TOKEN, FakeDiscord, FakeMessage
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import clean_env, kill, start_cli, terminate


def process_env(fake: FakeDiscord, tmp_path: Path, model_url: str, **extra: str) -> dict[str, str]:
    return {
        **clean_env(),
        "NO_PROXY": "127.0.0.1,localhost",
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{fake.port}",  # /api/v10 is implied
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "TERTULIA_DB": str(tmp_path / "bot.db"),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "x",
        "TERTULIA_EDIT_INTERVAL": "0.1",
        "TERTULIA_LOG_LEVEL": "INFO",
        **extra,
    }


async def reply_to(fake: FakeDiscord, mid: int) -> FakeMessage:
    found: FakeMessage = await fake.wait_for(
        lambda: next((m for m in fake.bot_messages() if m.reply_to == mid), None), timeout=10
    )
    return found


def assert_clean_exit(returncode: int | None, log: str) -> None:
    assert returncode == 0, log
    assert "discord adapter stopped" in log
    assert "Traceback" not in log and " ERROR " not in log, log
    assert TOKEN not in log  # the token never reaches the logs


async def test_discord_process_answers_a_dm_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord() as fake, FakeOpenAIServer(reply="Hola desde el modelo.") as llm:
        env = process_env(fake, tmp_path, llm.base_url)
        proc = await start_cli("discord", env, stderr=asyncio.subprocess.PIPE)
        try:
            await fake.wait_for(lambda: fake.identifies and fake.commands, timeout=20)
            answer = await reply_to(fake, await fake.dm(77, "hola"))
            await fake.wait_for(lambda: answer.content == "Hola desde el modelo.")
            stderr = await terminate(proc, 20)
        finally:
            await kill(proc)
    assert_clean_exit(proc.returncode, stderr.decode())
    assert llm.requests[0]["messages"][-1]["content"] == "hola"


async def test_sigterm_during_a_streamed_reply_lets_it_finish_then_exits_0(
    tmp_path: Path,
) -> None:
    text = "This answer streams slowly, a few words at a time, and must arrive whole."
    # 4 characters every 50 ms: about a second of streaming.
    async with FakeDiscord() as fake, FakeOpenAIServer(text, 4, chunk_delay=0.05) as llm:
        env = process_env(fake, tmp_path, llm.base_url)
        proc = await start_cli("discord", env, stderr=asyncio.subprocess.PIPE)
        try:
            await fake.wait_for(lambda: fake.identifies and fake.commands, timeout=20)
            answer = await reply_to(fake, await fake.dm(78, "tell me slowly"))
            assert answer.content != text  # caught mid-stream
            stderr = await terminate(proc, 20)
        finally:
            await kill(proc)
    assert answer.content == text
    assert len(answer.history) > 1  # it was streamed, and finished after the signal
    assert_clean_exit(proc.returncode, stderr.decode())
    assert len(llm.requests) == 1


@pytest.mark.parametrize(
    ("token", "close", "named"),
    [("not-the-token", None, "DISCORD_BOT_TOKEN"), (TOKEN, 4014, "message-content intent")],
)
async def test_a_bad_token_or_intent_exits_2_so_the_supervisor_stops(
    tmp_path: Path, token: str, close: int | None, named: str
) -> None:
    async with FakeDiscord() as fake:
        fake.identify_close = close
        # A wrong token gets 401 from the fake; the model is never reached.
        env = process_env(fake, tmp_path, "http://127.0.0.1:9/v1", DISCORD_BOT_TOKEN=token)
        proc = await start_cli("discord", env, stderr=asyncio.subprocess.PIPE)
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            await kill(proc)
    log = stderr.decode()
    assert proc.returncode == 2, log
    assert named in log
    assert "Traceback" not in log, log
    assert token not in log
