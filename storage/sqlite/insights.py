"""Read-only queries for the dashboard: daily figures, people, conversations, message search."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

DAY = 86400
# Without these columns (migration 010) the dashboard has nothing to show for ratings.
NEEDS = "010_feedback_and_consent"
ERRORS = ("failed", "blocked", "interrupted", "undelivered")
# Days are UTC days: a local day would cost a time-zone conversion per row.
DAY_OF = "CAST(m.created_at / 86400 AS INTEGER)"
Floats = np.ndarray[Any, np.dtype[np.float64]]


class Unavailable(Exception):
    """The database is missing, unreadable or older than this release."""


@dataclass(frozen=True, slots=True)
class Identity:
    """One platform account, with the person it is linked to (None: itself)."""

    id: int
    platform: str
    platform_user_id: str
    display_name: str
    lang: str | None
    person_id: int | None
    consent: bool
    messages: int
    last_at: float | None


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation of an identity, with its rating counts."""

    id: int
    chat_id: str
    started_at: float
    active: bool
    summary: str | None
    messages: int
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class Message:
    """One stored turn as the dashboard shows it."""

    id: int
    user_id: int
    conversation_id: int
    role: str
    text: str
    kind: str
    outcome: str
    created_at: float
    latency_ms: int | None
    rating: int | None
    rating_reason: str | None


MESSAGE = (
    "m.id, m.user_id, m.conversation_id, m.role, m.text, m.kind, m.outcome, m.created_at,"
    " m.latency_ms, m.rating, m.rating_reason"
)


def _floats(joined: str | None) -> Floats:
    return np.fromstring(joined or "", dtype=np.float64, sep=",")


def day_of(index: int) -> date:
    """The UTC date of a day number (seconds since the epoch // 86400)."""
    return datetime.fromtimestamp(index * DAY, UTC).date()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Insights:
    """Each call opens the file read-only (mode=ro, query_only), so nothing here can write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self.path.is_file():
            raise Unavailable(f"no database at {self.path}")
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            # A connection per call: Streamlit runs each session's script on its own thread.
            with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
                conn.execute("PRAGMA query_only = 1")
                yield conn
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot read {self.path}: {exc}") from None

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._db() as conn:
            return conn.execute(sql, args).fetchall()

    def check(self) -> None:
        """Raise Unavailable unless the file holds this release's schema."""
        done = self._all(
            "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
            " AND EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?)",
            (NEEDS,),
        )
        if not done:
            raise Unavailable(f"{self.path} predates this release: start the bot once to upgrade")

    def totals(self) -> tuple[int, int, int]:
        """(people, conversations, stored messages)."""
        row = self._all(
            "SELECT (SELECT count(*) FROM users WHERE person_id IS NULL),"
            " (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)"
        )[0]
        return int(row[0]), int(row[1]), int(row[2])

    def platforms(self) -> list[str]:
        """Every platform someone wrote from."""
        return [r[0] for r in self._all("SELECT DISTINCT platform FROM users ORDER BY 1")]

    def traffic(self, since: float) -> list[tuple[date, str, int, int]]:
        """(day, platform, messages, tokens) since `since`."""
        rows = self._all(
            f"SELECT {DAY_OF}, u.platform, count(*), coalesce(sum(m.tokens), 0)"
            " FROM messages m JOIN users u ON u.id = m.user_id WHERE m.created_at >= ?"
            " GROUP BY 1, 2 ORDER BY 1, 2",
            (since,),
        )
        return [(day_of(d), platform, n, tokens) for d, platform, n, tokens in rows]

    def ratings(self, since: float) -> list[tuple[date, int, int]]:
        """(day, 👍, 👎) of the answers written since `since`."""
        rows = self._all(
            f"SELECT {DAY_OF}, sum(m.rating = 1), sum(m.rating = -1) FROM messages m"
            " WHERE m.created_at >= ? AND m.rating IS NOT NULL GROUP BY 1 ORDER BY 1",
            (since,),
        )
        return [(day_of(d), up, down) for d, up, down in rows]

    def errors(self, since: float) -> list[tuple[date, str, int]]:
        """(day, outcome, exchanges) of exchanges that ended badly, counted on the person's turn."""
        marks = ", ".join("?" * len(ERRORS))
        rows = self._all(
            f"SELECT {DAY_OF}, m.outcome, count(*) FROM messages m WHERE m.created_at >= ?"
            f" AND m.role = 'user' AND m.outcome IN ({marks}) GROUP BY 1, 2 ORDER BY 1, 2",
            (since, *ERRORS),
        )
        return [(day_of(d), outcome, n) for d, outcome, n in rows]

    def latencies(self, since: float) -> list[tuple[date, Floats, Floats]]:
        """Per day, each full answer's latency and time to first token (ms) since `since`."""
        # One row a day with the values joined, parsed by numpy: a Python tuple per answer
        # cost most of the time at a million messages.
        rows = self._all(
            f"SELECT {DAY_OF}, group_concat(m.latency_ms), group_concat(m.first_token_ms)"
            " FROM messages m WHERE m.created_at >= ? AND m.latency_ms IS NOT NULL"
            " AND m.outcome IN ('ok', 'superseded') GROUP BY 1 ORDER BY 1",
            (since,),
        )
        return [(day_of(d), _floats(total), _floats(first)) for d, total, first in rows]

    def people(self, search: str = "", limit: int = 50) -> list[Identity]:
        """Accounts whose name, id or platform matches `search`, newest first."""
        rows = self._all(
            "SELECT u.id, u.platform, u.platform_user_id, u.display_name, p.lang, u.person_id,"
            " p.tuning_consent, (SELECT count(*) FROM messages m WHERE m.user_id = u.id),"
            " (SELECT created_at FROM messages m WHERE m.user_id = u.id ORDER BY id DESC LIMIT 1)"
            " FROM users u JOIN users p ON p.id = coalesce(u.person_id, u.id)"
            " WHERE ?1 = '' OR u.platform = ?1 OR u.display_name LIKE ?2 ESCAPE '\\'"
            " OR u.platform_user_id LIKE ?2 ESCAPE '\\' ORDER BY u.id DESC LIMIT ?3",
            (search.strip(), _like(search.strip()), limit),
        )
        return [Identity(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8]) for r in rows]

    def conversations(self, user_id: int, limit: int = 200) -> list[Conversation]:
        """An account's conversations, newest first, with their counts."""
        rows = self._all(
            "SELECT c.id, c.chat_id, c.started_at, c.active, c.summary, count(m.id),"
            " coalesce(sum(m.rating = 1), 0), coalesce(sum(m.rating = -1), 0)"
            " FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
            " WHERE c.user_id = ? GROUP BY c.id ORDER BY c.id DESC LIMIT ?",
            (user_id, limit),
        )
        return [Conversation(r[0], r[1], r[2], bool(r[3]), *r[4:]) for r in rows]

    def messages(self, conversation_id: int, limit: int = 1000) -> list[Message]:
        """A conversation's turns in order (the first `limit`)."""
        rows = self._all(
            f"SELECT {MESSAGE} FROM messages m WHERE m.conversation_id = ? ORDER BY m.id LIMIT ?",
            (conversation_id, limit),
        )
        return [Message(*r) for r in rows]

    def search(self, text: str, user_id: int | None = None, limit: int = 50) -> list[Message]:
        """The newest messages containing `text` (LIKE: every message, any outcome)."""
        scope = "" if user_id is None else " AND m.user_id = ?"
        args: tuple[Any, ...] = (_like(text),) + (() if user_id is None else (user_id,))
        rows = self._all(
            f"SELECT {MESSAGE} FROM messages m WHERE m.text LIKE ? ESCAPE '\\'{scope}"
            " ORDER BY m.id DESC LIMIT ?",
            (*args, limit),
        )
        return [Message(*r) for r in rows]

    def open_turns(self, platform: str, user: str, chat_id: str) -> list[Message]:
        """The turns of one account's open conversation in `chat_id` (the playground's)."""
        rows = self._all(
            f"SELECT {MESSAGE} FROM users u JOIN conversations c ON c.user_id = u.id"
            " AND c.chat_id = ? AND c.active = 1 JOIN messages m ON m.conversation_id = c.id"
            " WHERE u.platform = ? AND u.platform_user_id = ? ORDER BY m.id",
            (chat_id, platform, user),
        )
        return [Message(*r) for r in rows]
