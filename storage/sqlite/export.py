"""A person's own data on SQLite, whole, for /export: every identity, conversation and fact."""

from __future__ import annotations

import time
from typing import Any

from storage.sqlite.connection import Database
from storage.sqlite.users import IDENTITIES_SQL

FORMAT = "tertulia-export/1"


class ExportQueries(Database):
    """Reads everything stored about one person, and nothing about anyone else."""

    async def export(self, user_id: int) -> dict[str, Any]:
        """Every row of the person (all linked identities) as plain JSON-ready values."""
        # One read transaction on a connection of its own: a consistent snapshot, even
        # while the person's other platform keeps writing, and nobody's writes wait for it.
        conn = await self._connect()
        try:
            await conn.execute("BEGIN")

            async def read(sql: str, params: tuple[Any, ...]) -> list[Any]:
                return list(await conn.execute_fetchall(sql, params))

            ids = [r[0] for r in await read(IDENTITIES_SQL, (user_id, user_id))]
            marks = ",".join("?" * len(ids))
            people = await read(
                "SELECT id, platform, platform_user_id, display_name, lang, persona, created_at"
                f" FROM users WHERE id IN ({marks}) ORDER BY id",
                tuple(ids),
            )
            conversations = await read(
                "SELECT id, user_id, chat_id, started_at, active, summary FROM conversations"
                f" WHERE user_id IN ({marks}) ORDER BY id",
                tuple(ids),
            )
            messages = await read(
                "SELECT conversation_id, role, text, kind, outcome, created_at, images,"
                " rating, rating_reason"
                f" FROM messages WHERE user_id IN ({marks}) ORDER BY id",
                tuple(ids),
            )
            consent = await read(
                "SELECT tuning_consent, consent_at FROM users"
                " WHERE id = (SELECT coalesce(person_id, id) FROM users WHERE id = ?)",
                (user_id,),
            )
            facts = await read(
                "SELECT id, user_id, chat_id, text, source, created_at, valid_until,"
                f" replaced_by FROM facts WHERE user_id IN ({marks}) ORDER BY id",
                tuple(ids),
            )
            await conn.execute("COMMIT")
        finally:
            await conn.close()
        platform = {row[0]: row[1] for row in people}
        by_conversation: dict[int, list[dict[str, Any]]] = {}
        for conv, role, text, kind, outcome, at, images, rating, reason in messages:
            turn = {
                "role": role,
                "text": text,
                "kind": kind,
                "outcome": outcome,
                "at": _iso(at),
                "images": images,
            }
            if rating is not None:  # the person's 👍 (1) or 👎 (-1) of this answer
                turn |= {"rating": rating, "rating_reason": reason}
            by_conversation.setdefault(conv, []).append(turn)
        agreed, agreed_at = consent[0] if consent else (0, None)
        return {
            "format": FORMAT,
            "exported_at": _iso(time.time()),
            # Whether the person's conversations may go into tuning datasets (/consent).
            "tuning_consent": {
                "given": bool(agreed),
                "changed": _iso(agreed_at) if agreed_at is not None else None,
            },
            "identities": [
                {
                    "platform": p,
                    "user_id": uid,
                    "display_name": name,
                    "lang": lang,
                    "persona": persona,
                    "since": _iso(at),
                }
                for _, p, uid, name, lang, persona, at in people
            ],
            "facts": [
                {
                    "id": fid,
                    "platform": platform.get(owner),
                    "chat_id": chat,
                    "text": text,
                    "source": source,
                    "since": _iso(at),
                    "until": _iso(until) if until is not None else None,
                    "replaced_by": replaced,
                }
                for fid, owner, chat, text, source, at, until, replaced in facts
            ],
            "conversations": [
                {
                    "platform": platform.get(owner),
                    "chat_id": chat,
                    "started": _iso(at),
                    "active": bool(active),
                    "summary": summary,
                    "messages": by_conversation.get(cid, []),
                }
                for cid, owner, chat, at, active, summary in conversations
            ],
        }


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
