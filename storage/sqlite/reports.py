"""Read-only reports on SQLite: counts for admins and one person's stored messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.types import Outcome, Role, TurnKind
from storage.sqlite.connection import Database


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message, with what it was and how it ended, as history shows it."""

    id: int
    role: Role
    text: str
    kind: TurnKind
    outcome: Outcome
    conversation_id: int
    created_at: float


class ReportQueries(Database):
    """Reads that change nothing: no write lock, one hop each."""

    async def history(
        self, user_id: int, chat_id: str | None = None, *, limit: int = 100
    ) -> list[StoredMessage]:
        """This person's newest `limit` messages, oldest first (optionally in one chat)."""
        sql = (
            "SELECT id, role, text, kind, outcome, conversation_id, created_at FROM messages"
            " WHERE user_id = ?"
        )
        params: tuple[Any, ...] = (user_id,)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params += (chat_id,)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = await self._all(sql, (*params, limit))
        return [
            StoredMessage(id_, role, text, TurnKind(kind), Outcome(outcome), conv, created)
            for id_, role, text, kind, outcome, conv, created in reversed(rows)
        ]

    async def stats(self) -> dict[str, int]:
        """Counts across all people (for admins): users, conversations, messages."""
        users, conversations, messages = await self._one(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM conversations),"
            " (SELECT count(*) FROM messages)"
        )
        return {"users": users, "conversations": conversations, "messages": messages}
