"""Access and limits on SQLite: blocks, rationed notices, and each identity's standing."""

from __future__ import annotations

from bot.types import Standing
from storage.sqlite.connection import Database

# Everything a message's admission needs, in one read of primary keys and one partial
# index: blocked?, today's use, and when the newest `burst` questions to the model began.
# Parameters: platform, platform user id, UTC day, burst - 1.
STANDING_SQL = (
    "SELECT"
    " EXISTS (SELECT 1 FROM blocked WHERE platform = ?1 AND platform_user_id = ?2),"
    " (SELECT tokens FROM usage WHERE platform = ?1 AND platform_user_id = ?2 AND day = ?3),"
    " (SELECT messages FROM usage WHERE platform = ?1 AND platform_user_id = ?2 AND day = ?3),"
    # INDEXED BY: with no statistics SQLite would pick messages_user and read every row of
    # the person's until `burst` questions turn up; the partial index holds only those.
    " (SELECT m.created_at FROM messages m INDEXED BY messages_asked"
    "  WHERE m.user_id = (SELECT id FROM users WHERE platform = ?1 AND platform_user_id = ?2)"
    "  AND m.role = 'user' AND m.kind = 'chat' ORDER BY m.id DESC LIMIT 1 OFFSET ?4)"
)


class AccessQueries(Database):
    """Shared by every adapter process: the counters and blocks live in the file."""

    async def standing(
        self, platform: str, platform_user_id: str, *, day: str, burst: int = 1
    ) -> Standing:
        """The identity's block, its use on `day` (UTC, YYYY-MM-DD), and when its newest
        `burst` questions to the model began (None when it asked fewer)."""
        ((blocked, tokens, messages, started),) = await self._read(
            STANDING_SQL, (platform, platform_user_id, day, max(burst, 1) - 1)
        )
        return Standing(bool(blocked), tokens or 0, messages or 0, started)

    async def notify(
        self, platform: str, platform_user_id: str, reason: str, *, now: float, every: float
    ) -> bool:
        """Whether to tell this identity about `reason` now: True at most once per `every`
        seconds, whichever process asks (the claim is one conditional write)."""
        rows = await self._statement(
            "INSERT INTO notices (platform, platform_user_id, reason, told_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (platform, platform_user_id, reason)"
            " DO UPDATE SET told_at = excluded.told_at WHERE told_at <= ? RETURNING 1",
            (platform, platform_user_id, reason, now, now - every),
        )
        return bool(rows)

    async def block(self, platform: str, platform_user_id: str, *, by: str, now: float) -> bool:
        """Block an identity; False when it already was."""
        rows = await self._statement(
            "INSERT INTO blocked (platform, platform_user_id, blocked_by, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (platform, platform_user_id, by, now),
        )
        return bool(rows)

    async def unblock(self, platform: str, platform_user_id: str) -> bool:
        """Lift a block; False when there was none. A later block is told at once."""
        async with self._write() as conn:
            gone = await conn.execute_fetchall(
                "DELETE FROM blocked WHERE platform = ? AND platform_user_id = ? RETURNING 1",
                (platform, platform_user_id),
            )
            await conn.execute(
                "DELETE FROM notices WHERE platform = ? AND platform_user_id = ?"
                " AND reason = 'access'",
                (platform, platform_user_id),
            )
        return bool(list(gone))
