"""People on SQLite: find them, keep their choices, start conversations, erase them."""

from __future__ import annotations

import time

from bot.types import User
from storage.sqlite.connection import Database


class UserQueries(Database):
    """What the commands change about a person; every statement is scoped by their id."""

    async def find_user(self, platform: str, platform_user_id: str) -> User | None:
        row = await self._one(
            "SELECT id, lang, persona FROM users WHERE platform = ? AND platform_user_id = ?",
            (platform, platform_user_id),
        )
        if row is None:
            return None
        return User(row[0], platform, platform_user_id, row[1], row[2])

    async def set_lang(self, user_id: int, lang: str | None) -> None:
        await self._statement("UPDATE users SET lang = ? WHERE id = ?", (lang, user_id))

    async def set_persona(self, user_id: int, persona: str) -> None:
        await self._statement("UPDATE users SET persona = ? WHERE id = ?", (persona, user_id))

    async def new_conversation(self, user_id: int, chat_id: str) -> int:
        """Close the active conversation in this chat (it is kept) and open a new one."""
        async with self._write():
            # Two statements: the partial unique index allows one active conversation per
            # user and chat, so the old one must be closed before the new one exists.
            await self._all(
                "UPDATE conversations SET active = 0"
                " WHERE user_id = ? AND chat_id = ? AND active = 1",
                (user_id, chat_id),
            )
            ((conversation_id,),) = await self._all(
                "INSERT INTO conversations (user_id, chat_id, started_at) VALUES (?, ?, ?)"
                " RETURNING id",
                (user_id, chat_id, time.time()),
            )
        return int(conversation_id)

    async def forget(self, user_id: int) -> int:
        """Erase the person, their conversations and messages; how many messages went."""
        async with self._write():
            ((count,),) = await self._all(
                "SELECT count(*) FROM messages WHERE user_id = ?", (user_id,)
            )
            # ON DELETE CASCADE removes conversations and messages with the user row
            # (migration 003 indexes the lookups the cascade makes).
            await self._all("DELETE FROM users WHERE id = ?", (user_id,))
            # The full-text index only marks deleted rows until its segments merge: merge
            # them now, so no word of this person's stays in the file (costs a rewrite of
            # the index; /forget is rare).
            await self._all("INSERT INTO recall_fts (recall_fts) VALUES ('optimize')")
        # And out of the WAL, which still holds the pages as they were before.
        await self._all("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(count)
