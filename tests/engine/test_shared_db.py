"""Two adapter processes on one SQLite file: no "database is locked", no lost message."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent(
    """
    import asyncio, sys
    from bench.common import InstantModel
    from bot.engine import Engine
    from bot.types import IncomingMessage
    from config.personas import load_personas
    from storage.memory import SqliteMemory

    async def main(db, platform, count):
        # A fresh file: both processes also race to apply the migrations.
        async with SqliteMemory(db) as memory:
            engine = Engine(memory, InstantModel("r"), personas=load_personas())

            async def one(i):
                msg = IncomingMessage(platform=platform, user_id=f"u{i % 20}", chat_id="c",
                                      text=f"{platform} {i}", message_id=str(i))
                assert "".join([p async for p in engine.reply(msg)]) == "r"

            await asyncio.gather(*(one(i) for i in range(count)))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def test_two_processes_write_one_file_at_once(tmp_path: Path):
    db = tmp_path / "shared.db"
    count = 300
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(db), platform, str(count)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for platform in ("telegram", "discord")
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    with sqlite3.connect(db) as raw:
        rows = raw.execute(
            "SELECT u.platform, m.role, m.status, count(*) FROM messages m"
            " JOIN users u ON u.id = m.user_id GROUP BY 1, 2, 3 ORDER BY 1, 2"
        ).fetchall()
        migrations = raw.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
    assert rows == [
        ("discord", "assistant", "ok", count),
        ("discord", "user", "ok", count),
        ("telegram", "assistant", "ok", count),
        ("telegram", "user", "ok", count),
    ]
    assert migrations == 1
