"""`tertulia status`: figures from the file, and the processes its heartbeats say are running."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from storage.sqlite import SqliteStore, maintenance
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env, kill, start_cli, terminate
from tests.test_backup import one_line, tertulia


async def status_lines(tmp_path: Path, db: Path) -> list[str]:
    done = await asyncio.to_thread(tertulia, tmp_path, db, "status")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.splitlines()


async def until_running(db: Path, platforms: set[str], timeout: float = 20) -> None:  # noqa: ASYNC109
    """Wait for exactly these platforms' heartbeats."""
    deadline = time.monotonic() + timeout
    while {p.platform for p in maintenance.status(db).processes} != platforms:
        assert time.monotonic() < deadline, maintenance.status(db).processes
        await asyncio.sleep(0.1)


async def test_status_lists_the_running_processes_and_forgets_the_stopped(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapters.log"
    async with FakeTelegramAPI() as api, FakeOpenAIServer("¡hola!") as model:
        env = {
            **clean_env(),
            "TERTULIA_DB": str(db),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "x",
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.root,
        }
        pipe = asyncio.subprocess.PIPE
        with log.open("ab") as err:
            chat = await start_cli("chat", env, stdin=pipe, stdout=pipe, stderr=err)
            telegram = await start_cli("telegram", env, stdout=pipe, stderr=err)
        try:
            assert chat.stdin is not None and chat.stdout is not None
            chat.stdin.write(b"hola\n")  # and the pipe stays open: the chat goes on
            await chat.stdin.drain()
            assert await asyncio.wait_for(chat.stdout.readline(), 60) == "¡hola!\n".encode()
            await until_running(db, {"chat", "telegram"})
            lines = await status_lines(tmp_path, db)
            assert lines[0].startswith(f"database: {db}, ") and "iB" in lines[0]
            assert lines[1] == f"schema: {maintenance.KNOWN[-1]} ({len(maintenance.KNOWN)} steps)"
            assert lines[2] == "people: 1, accounts: 1, conversations: 1, messages: 2"
            assert lines[3].startswith("last activity: ") and lines[3].endswith(" s ago)")
            running = lines[4]
            assert f"chat (pid {chat.pid}, up " in running
            assert f"telegram (pid {telegram.pid}, up " in running

            # A clean stop takes the process off the list at once.
            await terminate(telegram, 15)
            assert telegram.returncode == 0, log.read_text()
            assert (await status_lines(tmp_path, db))[4].startswith(
                f"running: chat (pid {chat.pid}"
            )
            chat.stdin.close()  # end of input: the chat ends
            assert await asyncio.wait_for(chat.wait(), 30) == 0
        finally:
            await kill(chat)
            await kill(telegram)
    assert (await status_lines(tmp_path, db))[4] == "running: none (no process heard from in 15 s)"


async def test_a_store_beats_while_open_and_leaves_when_closed(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with SqliteStore(db, checkpoint_every=0.05):
        deadline = time.monotonic() + 10
        while not maintenance.status(db).processes:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        (me,) = maintenance.status(db).processes
        assert (me.pid, me.host, me.local) == (os.getpid(), socket.gethostname(), True)
    assert maintenance.status(db).processes == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM processes").fetchone() == (0,)


def test_only_processes_heard_from_lately_and_alive_are_running(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    asyncio.run(_schema(db))
    now, here = time.time(), socket.gethostname()
    dead = _a_dead_pid()
    rows = [
        (here, os.getpid(), "telegram", now - 3600, now - 2),  # alive, heard from
        (here, dead, "discord", now - 60, now - 1),  # heard from, but its pid is gone
        (here, os.getppid(), "chat", now - 600, now - 60),  # alive, silent for a minute
        ("elsewhere", 4242, "discord", now - 120, now - 3),  # another host: not checked
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO processes VALUES (?, ?, ?, ?, ?)", rows)
    found = maintenance.status(db, now).processes
    assert [(p.platform, p.pid, p.local) for p in found] == [
        ("discord", 4242, False),
        ("telegram", os.getpid(), True),
    ]


def test_a_file_from_before_heartbeats_shows_its_figures(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    asyncio.run(_schema(db))
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE processes")
        conn.execute("DELETE FROM schema_migrations WHERE name = '012_process_heartbeats'")
    done = tertulia(tmp_path, db, "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # The newest step applied is named, and the one taken back is still to apply.
    assert lines[1].startswith("schema: ") and lines[1].endswith(", 1 to apply at the next start)")
    assert "012_process_heartbeats" not in lines[1]
    assert lines[2:] == [
        "people: 0, accounts: 0, conversations: 0, messages: 0",
        "last activity: never",
        "running: none (no process heard from in 15 s)",
    ]


def test_no_database_exits_2_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    done = tertulia(tmp_path, db, "status")
    assert done.returncode == 2 and "TERTULIA_DB" in one_line(done)
    assert not db.exists()


async def _schema(db: Path) -> None:
    async with SqliteStore(db):
        pass


def _a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid
