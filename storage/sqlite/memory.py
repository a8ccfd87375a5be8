"""Lasting memory on SQLite: remembered facts, conversation summaries, what is left to learn."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence

from bot.types import Fact, StoredTurn, Summary
from storage.sqlite.connection import Database


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


def same_fact(a: str, b: str) -> bool:
    """Two wordings of one fact, as far as case, accents, spacing and end punctuation go."""
    return _fold(a) == _fold(b)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split()).strip(" .!¡?¿")


class MemoryQueries(Database):
    """Facts and summaries, always scoped by the person's identities."""

    async def facts(
        self,
        user_ids: Sequence[int],
        *,
        chat_id: str | None = None,
        current: bool = True,
        limit: int = 200,
    ) -> list[Fact]:
        """The person's facts, newest first: those that hold (or all), from `chat_id` only
        when given."""
        where = "valid_until IS NULL" if current else "1"
        sql = (
            "SELECT id, text, created_at, source, valid_until, chat_id FROM facts"
            f" WHERE user_id IN ({_marks(user_ids)}) AND {where}"
        )
        params: tuple[object, ...] = tuple(user_ids)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params += (chat_id,)
        rows = await self._read(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            Fact(i, text, at, source == "told", until, chat)
            for i, text, at, source, until, chat in rows
        ]

    async def remember(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: str,
        told: bool,
        identities: Sequence[int] = (),
        replaces: int | None = None,
    ) -> Fact | None:
        """Keep a fact; None when the person already has it (in any wording that folds
        the same). `replaces` stops one of theirs from holding, pointing at the new one."""
        ids = tuple(identities) or (user_id,)
        now = time.time()
        async with self._write():
            held = await self._all(
                "SELECT id, text FROM facts"
                f" WHERE user_id IN ({_marks(ids)}) AND valid_until IS NULL",
                ids,
            )
            if any(same_fact(old, text) for _, old in held):
                return None
            ((fact_id,),) = await self._all(
                "INSERT INTO facts (user_id, chat_id, text, source, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (user_id, chat_id, text, "told" if told else "learnt", now),
            )
            if replaces is not None:
                await self._all(
                    "UPDATE facts SET valid_until = ?, replaced_by = ?"
                    f" WHERE id = ? AND valid_until IS NULL AND user_id IN ({_marks(ids)})",
                    (now, fact_id, replaces, *ids),
                )
        return Fact(int(fact_id), text, now, told)

    async def expire_fact(self, user_ids: Sequence[int], fact_id: int) -> bool:
        """Mark one of the person's facts as no longer holding (kept, with the date)."""
        rows = await self._statement(
            "UPDATE facts SET valid_until = ?"
            f" WHERE id = ? AND valid_until IS NULL AND user_id IN ({_marks(user_ids)})"
            " RETURNING id",
            (time.time(), fact_id, *user_ids),
        )
        return bool(rows)

    async def drop_fact(self, user_ids: Sequence[int], fact_id: int) -> bool:
        """Erase one of the person's facts for good; False if they have none by that id."""
        rows = await self._statement(
            f"DELETE FROM facts WHERE id = ? AND user_id IN ({_marks(user_ids)}) RETURNING id",
            (fact_id, *user_ids),
        )
        return bool(rows)

    async def unlearnt(self, user_id: int, *, limit: int = 40) -> list[tuple[int, str, str]]:
        """This identity's answered chat turns not yet read for facts: (id, text, chat_id),
        oldest first."""
        rows = await self._read(
            "SELECT m.id, m.text, m.chat_id FROM messages m JOIN users u ON u.id = m.user_id"
            " WHERE m.user_id = ? AND m.id > u.facts_through AND m.role = 'user'"
            " AND m.kind = 'chat' AND m.outcome = 'ok' ORDER BY m.id LIMIT ?",
            (user_id, limit),
        )
        return [(int(i), str(text), str(chat)) for i, text, chat in rows]

    async def learnt(self, user_id: int, through: int) -> None:
        """The identity's turns up to message `through` have been read for facts."""
        await self._statement(
            "UPDATE users SET facts_through = max(facts_through, ?) WHERE id = ?",
            (through, user_id),
        )

    async def unsummarised(
        self, user_id: int, conversation_id: int, *, limit: int = 400
    ) -> tuple[Summary | None, list[StoredTurn]]:
        """A conversation's summary so far and its answered turns after it, oldest first."""
        head = await self._read(
            "SELECT summary, summary_through FROM conversations WHERE id = ? AND user_id = ?",
            (conversation_id, user_id),
        )
        if not head:
            return None, []
        text, through = head[0]
        rows = await self._read(
            "SELECT role, text, tokens, id FROM messages WHERE user_id = ?"
            " AND conversation_id = ? AND kind = 'chat' AND outcome = 'ok' AND id > ?"
            " ORDER BY id LIMIT ?",
            (user_id, conversation_id, through, limit),
        )
        summary = Summary(text, through) if text is not None else None
        return summary, [StoredTurn(role, t, tokens, i) for role, t, tokens, i in rows]

    async def summarise(self, user_id: int, conversation_id: int, summary: Summary) -> bool:
        """Keep a conversation's new summary, unless a newer one got there first."""
        rows = await self._statement(
            "UPDATE conversations SET summary = ?, summary_through = ?"
            " WHERE id = ? AND user_id = ? AND summary_through < ? RETURNING id",
            (summary.text, summary.through, conversation_id, user_id, summary.through),
        )
        return bool(rows)

    async def holdings(self, user_ids: Sequence[int]) -> tuple[int, int]:
        """How many conversations and messages are stored for the person."""
        marks = _marks(user_ids)
        ((conversations, messages),) = await self._read(
            f"SELECT (SELECT count(*) FROM conversations WHERE user_id IN ({marks})),"
            f" (SELECT count(*) FROM messages WHERE user_id IN ({marks}))",
            (*user_ids, *user_ids),
        )
        return int(conversations), int(messages)
