"""`tertulia run` with both platforms: two adapter processes, one SQLite file, nothing lost."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.adapters.conftest import run_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import kill, start_cli, terminate

PER_PLATFORM = 40


async def test_run_supervises_both_platforms_on_one_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with (
        FakeTelegramAPI() as tg,
        FakeDiscord() as dc,
        FakeOpenAIServer(lambda messages: "ok: " + messages[-1]["content"]) as llm,
    ):
        env = {**run_env(tg, dc, llm, db), "TERTULIA_LOG_LEVEL": "WARNING"}
        proc = await start_cli("run", env, stderr=asyncio.subprocess.PIPE)
        try:
            await tg.wait_for(lambda: tg.calls_of("getUpdates"), timeout=40)
            await dc.wait_for(lambda: dc.identifies and dc.commands, timeout=40)
            # Both platforms at once: every message is a write to the shared file.
            for i in range(PER_PLATFORM):
                tg.push_text(1000 + i % 8, 1000 + i % 8, f"tg {i}")
                await dc.dm(2000 + i % 8, f"dc {i}")
            await tg.wait_for(
                lambda: (
                    sum(t.startswith("ok: tg") for c in range(1000, 1008) for t in tg.texts(c))
                    == PER_PLATFORM
                ),
                timeout=60,
            )
            await dc.wait_for(
                lambda: (
                    sum(m.content.startswith("ok: dc") for m in dc.bot_messages()) == PER_PLATFORM
                ),
                timeout=60,
            )
            stderr = await terminate(proc, 30)
        finally:
            await kill(proc)
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "locked" not in log and "Traceback" not in log, log
    with sqlite3.connect(db) as raw:
        rows = raw.execute(
            "SELECT u.platform, m.role, m.kind, m.outcome, count(*) FROM messages m"
            " JOIN users u ON u.id = m.user_id GROUP BY 1, 2, 3, 4 ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        ("discord", "assistant", "chat", "ok", PER_PLATFORM),
        ("discord", "user", "chat", "ok", PER_PLATFORM),
        ("telegram", "assistant", "chat", "ok", PER_PLATFORM),
        ("telegram", "user", "chat", "ok", PER_PLATFORM),
    ]
