"""`tertulia discord` as a real process: answers a DM through the fakes and stops on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fakes.discord_api import TOKEN, FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import clean_env, kill, start_cli, terminate


async def test_discord_process_answers_a_dm_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord() as fake, FakeOpenAIServer(reply="Hola desde el modelo.") as llm:
        env = {
            **clean_env(),
            "NO_PROXY": "127.0.0.1,localhost",
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_BASE_URL": f"http://127.0.0.1:{fake.port}",  # /api/v10 is implied
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "TERTULIA_DB": str(tmp_path / "bot.db"),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "x",
            "TERTULIA_EDIT_INTERVAL": "0.1",
            "TERTULIA_LOG_LEVEL": "INFO",
        }
        proc = await start_cli(
            "discord", env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            await fake.wait_for(lambda: fake.identifies and fake.commands, timeout=20)
            mid = await fake.dm(77, "hola")
            answer = await fake.wait_for(
                lambda: next((m for m in fake.bot_messages() if m.reply_to == mid), None)
            )
            await fake.wait_for(lambda: answer.content == "Hola desde el modelo.")
            stderr = await terminate(proc, 20)
        finally:
            await kill(proc)
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "discord adapter stopped" in log
    assert "Traceback" not in log and " ERROR " not in log, log
    assert TOKEN not in log  # the token never reaches the logs
    assert llm.requests[0]["messages"][-1]["content"] == "hola"


@pytest.mark.parametrize(
    ("token", "close", "named"),
    [("not-the-token", None, "DISCORD_BOT_TOKEN"), (TOKEN, 4014, "message-content intent")],
)
async def test_a_bad_token_or_intent_exits_2_so_the_supervisor_stops(
    tmp_path: Path, token: str, close: int | None, named: str
) -> None:
    async with FakeDiscord() as fake:
        fake.identify_close = close
        env = {
            **clean_env(),
            "NO_PROXY": "127.0.0.1,localhost",
            "DISCORD_BOT_TOKEN": token,  # a wrong one gets 401 from the fake
            "DISCORD_API_BASE_URL": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "TERTULIA_DB": str(tmp_path / "bot.db"),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # never reached
            "OPENAI_API_KEY": "x",
        }
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
