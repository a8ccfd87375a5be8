"""Which processes have the database open: each one's heartbeat row, and who is running."""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiosqlite

HEARTBEAT_EVERY = 5.0  # seconds between a process's heartbeats
SEEN_WITHIN = 15.0  # a process not heard from for this long is not running
FORGOTTEN_AFTER = 24 * 3600.0  # heartbeat rows older than this are deleted

_platform: str | None = None


def name_this_process(platform: str) -> None:
    """What this process's heartbeat calls it (`telegram`, `chat`, ...); set by the entry point."""
    global _platform
    _platform = platform


def _default_name() -> str:
    # `python -m pkg` runs pkg/__main__.py: the package says more than "__main__".
    argv0 = Path(sys.argv[0] if sys.argv and sys.argv[0] else "python")
    return argv0.parent.name if argv0.stem == "__main__" else argv0.stem


class Heartbeat:
    """This process's row in `processes`, kept fresh by the store's background connection."""

    def __init__(self) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = time.time()
        self._due = 0.0  # time.monotonic() of the next beat

    async def beat(self, conn: aiosqlite.Connection) -> None:
        """One UPSERT every HEARTBEAT_EVERY seconds (nothing in between)."""
        if time.monotonic() < self._due:
            return
        first = self._due == 0.0
        self._due = time.monotonic() + HEARTBEAT_EVERY
        now = time.time()
        if first:  # rows of processes that died without a word
            await conn.execute("DELETE FROM processes WHERE seen_at < ?", (now - FORGOTTEN_AFTER,))
        await conn.execute(
            "INSERT INTO processes (host, pid, platform, started_at, seen_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (host, pid) DO UPDATE SET"
            " platform = excluded.platform, started_at = excluded.started_at,"
            " seen_at = excluded.seen_at",
            (self.host, self.pid, _platform or _default_name(), self.started_at, now),
        )

    async def leave(self, conn: aiosqlite.Connection) -> None:
        """Remove this process's row: status stops listing it at once."""
        await conn.execute(
            "DELETE FROM processes WHERE host = ? AND pid = ?", (self.host, self.pid)
        )


@dataclass(frozen=True, slots=True)
class Process:
    """A process that has the database open, as its heartbeats tell."""

    platform: str
    pid: int
    host: str
    started_at: float
    seen_at: float
    local: bool  # on this host, where its pid was found alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but it exists
    return True


def running(conn: sqlite3.Connection, now: float) -> list[Process]:
    """Processes heard from in the last SEEN_WITHIN seconds, minus this host's dead pids."""
    if not has_table(conn, "processes"):
        return []  # a file no process of this release has opened yet
    host = socket.gethostname()
    rows = conn.execute(
        "SELECT platform, pid, host, started_at, seen_at FROM processes WHERE seen_at >= ?"
        " ORDER BY platform, started_at",
        (now - SEEN_WITHIN,),
    ).fetchall()
    found = [Process(pl, pid, h, start, seen, h == host) for pl, pid, h, start, seen in rows]
    return [p for p in found if not p.local or _alive(p.pid)]


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?"
    return conn.execute(query, (name,)).fetchone() is not None
