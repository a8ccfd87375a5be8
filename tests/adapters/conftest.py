"""What the adapter tests share: a fake Discord per test, the environment of `tertulia run`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord_api import TOKEN as DISCORD_TOKEN
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env


def run_env(
    tg: FakeTelegramAPI, dc: FakeDiscord, llm: FakeOpenAIServer, db: Path
) -> dict[str, str]:
    """`tertulia run` with both platforms on the fakes, one database, the fake model."""
    return {
        **clean_env(),
        "NO_PROXY": "127.0.0.1,localhost",
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.root,
        "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{dc.port}",
        "DISCORD_GATEWAY_URL": dc.gateway_url,
        "TERTULIA_DB": str(db),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "x",
        "TERTULIA_EDIT_INTERVAL": "0.1",
    }


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
