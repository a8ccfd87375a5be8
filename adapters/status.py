"""`tertulia status`: the database's size and figures, and which tertulia processes run on it."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings
    from storage.sqlite.maintenance import Status
    from storage.sqlite.processes import Process

USAGE_ERROR = 2  # no database, or not a tertulia one


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 1024:,.0f} KiB"


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"
    return f"{seconds // 86400:.0f} days"


def _process(p: Process, now: float) -> str:
    where = "" if p.local else f" on {p.host}, seen {_ago(now - p.seen_at)} ago"
    return f"{p.platform} (pid {p.pid}{where}, up {_ago(now - p.started_at)})"


def describe(s: Status, now: float) -> list[str]:
    """The lines `tertulia status` prints."""
    from storage.sqlite.maintenance import KNOWN
    from storage.sqlite.processes import SEEN_WITHIN

    wal = f" + WAL {_size(s.wal_size)}" if s.wal_size else ""
    behind = len(KNOWN) - len(s.migrations)
    upgrade = f", {behind} to apply at the next start" if behind else ""
    if s.last_activity is None:
        last = "never"
    else:
        when = dt.datetime.fromtimestamp(s.last_activity, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        last = f"{when} UTC ({_ago(now - s.last_activity)} ago)"
    running = ", ".join(_process(p, now) for p in s.processes)
    return [
        f"database: {s.path.resolve()}, {_size(s.size)}{wal}",
        f"schema: {s.migrations[-1] if s.migrations else 'empty'}"
        f" ({len(s.migrations)} steps{upgrade})",
        f"people: {s.people:,}, accounts: {s.identities:,}, conversations: {s.conversations:,},"
        f" messages: {s.messages:,}",
        f"last activity: {last}",
        f"running: {running or f'none (no process heard from in {SEEN_WITHIN:.0f} s)'}",
    ]


def main(settings: Settings) -> int:
    """Print the status of TERTULIA_DB; 2 when there is none (one line)."""
    from storage.sqlite.maintenance import NotUsable, status

    try:
        found = status(settings.db)
    except NotUsable as exc:
        print(f"tertulia: TERTULIA_DB: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print("\n".join(describe(found, time.time())))
    return 0
