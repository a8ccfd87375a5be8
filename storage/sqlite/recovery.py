"""Crash recovery on SQLite: claim the chat turns a killed process left pending."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

from bot.types import Orphan, TurnRef
from storage.sqlite.connection import Database
from storage.sqlite.processes import SEEN_WITHIN, _alive

log = logging.getLogger(__name__)

# Pending chat turns of one platform, oldest first, read through messages_pending (the
# WHERE implies the partial index's own). The person's /lang choice comes with each.
_ORPHANS_SQL = (
    "SELECT m.id, m.user_id, m.conversation_id, m.chat_id, m.platform_message_id,"
    " u.platform_user_id, p.lang"
    # CROSS JOIN keeps this order: the few pending turns first, never every user.
    " FROM messages m CROSS JOIN users u ON u.id = m.user_id"
    " CROSS JOIN users p ON p.id = coalesce(u.person_id, u.id)"
    " WHERE m.outcome = 'pending' AND m.role = 'user' AND m.kind = 'chat'"
    " AND m.created_at < ? AND u.platform = ? ORDER BY m.created_at"
)

_ANY_SQL = (
    "SELECT 1 FROM messages WHERE outcome = 'pending' AND role = 'user' AND kind = 'chat'"
    " AND created_at < ? LIMIT 1"
)


class RecoveryQueries(Database):
    """The recovery claim: one IMMEDIATE transaction, so one process alone tells each person."""

    async def claim_orphans(
        self, platform: str, processes: Sequence[str], *, started: float, now: float
    ) -> list[Orphan]:
        """Settle as interrupted the pending chat turns of `platform` no live process may own.

        A turn is another process's while that process runs and started before the turn
        was stored. Processes named in `processes` (heartbeat names) count when heard from
        in the last SEEN_WITHIN seconds, unless on this host with their pid gone (a SIGKILL
        leaves a fresh-looking row behind). This process, started at `started`, owns every
        turn stored since, and none before.
        """
        # Almost always there is nothing: a read (on the reader connection) says so without
        # taking the file's write lock every minute in every process.
        if not await self._read(_ANY_SQL, (started,)):
            return []
        host, pid = socket.gethostname(), os.getpid()
        async with self._write() as conn:
            # IMMEDIATE takes the write lock before the read: two processes starting at
            # once queue here, and the second finds the turns settled by the first.
            marks = ",".join("?" * len(processes)) or "NULL"
            rows = await conn.execute_fetchall(
                "SELECT host, pid, started_at FROM processes"
                f" WHERE platform IN ({marks}) AND seen_at >= ? AND NOT (host = ? AND pid = ?)",
                (*processes, now - SEEN_WITHIN, host, pid),
            )
            live = [start for h, p, start in rows if h != host or _alive(p)]
            # Turns stored after the oldest live process started may be its own.
            before = min([started, *live])
            found = list(await conn.execute_fetchall(_ORPHANS_SQL, (before, platform)))
            if found:
                marked = ",".join("?" * len(found))
                # Settled in the same transaction as the read: no one else can claim them.
                await conn.execute(
                    f"UPDATE messages SET outcome = 'interrupted' WHERE id IN ({marked})"
                    " AND outcome = 'pending'",
                    tuple(row[0] for row in found),
                )
        if found:
            log.info("%d %s turns were interrupted by a restart", len(found), platform)
        return [
            Orphan(TurnRef(user, conversation, turn), platform, person, chat, message, lang)
            for turn, user, conversation, chat, message, person, lang in found
        ]
