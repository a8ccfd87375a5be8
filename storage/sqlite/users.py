"""People on SQLite: find them, keep their choices, link identities, start conversations, erase them."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.types import LinkOutcome, User
from storage.sqlite.connection import Database, index_batch

log = logging.getLogger(__name__)

# The person an identity belongs to: its own id, or the identity it was linked to.
PERSON = "(SELECT coalesce(person_id, id) FROM users WHERE id = ?)"
# Every identity of the person that identity ? belongs to.
IDENTITIES_SQL = f"SELECT id FROM users WHERE id = {PERSON} OR person_id = {PERSON}"
# Every identity of the person joined as `p` (users p ON p.id = coalesce(u.person_id, u.id)).
PERSON_IDS = "(SELECT i.id FROM users i WHERE i.id = p.id OR i.person_id = p.id)"
# The same, as one text ("3,17"), for a query that reads the person in one row.
PERSON_IDS_TEXT = f"(SELECT group_concat(id) FROM {PERSON_IDS})"


def linked(ids_text: object) -> tuple[int, ...]:
    """Every identity of a linked person from PERSON_IDS_TEXT; () for one who is only
    themselves."""
    ids = str(ids_text).split(",") if ids_text else []
    return tuple(int(i) for i in ids) if len(ids) > 1 else ()


class UserQueries(Database):
    """What the commands change about a person; every statement is scoped by their id."""

    async def find_user(self, platform: str, platform_user_id: str) -> User | None:
        row = await self._one(
            f"SELECT u.id, p.lang, p.persona, {PERSON_IDS_TEXT}"
            " FROM users u JOIN users p ON p.id = coalesce(u.person_id, u.id)"
            " WHERE u.platform = ? AND u.platform_user_id = ?",
            (platform, platform_user_id),
        )
        if row is None:
            return None
        return User(row[0], platform, platform_user_id, row[1], row[2], linked(row[3]))

    async def identities(self, user_id: int) -> tuple[int, ...]:
        """Every identity of the person `user_id` is (itself included)."""
        rows = await self._all(IDENTITIES_SQL, (user_id, user_id))
        return tuple(sorted(r[0] for r in rows))

    async def set_lang(self, user_id: int, lang: str | None) -> None:
        # The choice is the person's: it goes where every linked identity reads it.
        await self._statement(f"UPDATE users SET lang = ? WHERE id = {PERSON}", (lang, user_id))

    async def set_persona(self, user_id: int, persona: str) -> None:
        await self._statement(
            f"UPDATE users SET persona = ? WHERE id = {PERSON}", (persona, user_id)
        )

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
            # What was just said becomes recallable at once, not at the next background batch.
            await index_batch(self.conn)
        return int(conversation_id)

    async def issue_link(self, user_id: int, code_hash: str, expires_at: float) -> None:
        """Keep a new /link code's hash for this identity; its earlier codes stop working."""
        async with self._write():
            await self._all("DELETE FROM link_codes WHERE user_id = ?", (user_id,))
            await self._all(
                "INSERT INTO link_codes (code_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (code_hash, user_id, expires_at),
            )

    async def redeem_link(
        self, user_id: int, code_hash: str, *, max_attempts: int, per_seconds: float
    ) -> LinkOutcome:
        """Join this identity (and any it was linked with) to the person who issued the code."""
        now = time.time()
        async with self._write():
            ((tried,),) = await self._all(
                "SELECT count(*) FROM link_attempts WHERE user_id = ? AND at > ?",
                (user_id, now - per_seconds),
            )
            if tried >= max_attempts:
                return LinkOutcome.TOO_MANY
            # Every attempt counts, so a code cannot be found by trying many.
            await self._all(
                "DELETE FROM link_attempts WHERE user_id = ? AND at <= ?",
                (user_id, now - per_seconds),
            )
            await self._all("INSERT INTO link_attempts (user_id, at) VALUES (?, ?)", (user_id, now))
            row = await self._all(
                "SELECT coalesce(u.person_id, u.id) FROM link_codes l JOIN users u"
                " ON u.id = l.user_id WHERE l.code_hash = ? AND l.expires_at > ?",
                (code_hash, now),
            )
            if not row:
                return LinkOutcome.INVALID
            target = row[0][0]
            ((mine,),) = await self._all(
                "SELECT coalesce(person_id, id) FROM users WHERE id = ?", (user_id,)
            )
            if mine == target:
                return LinkOutcome.OWN
            await self._all("DELETE FROM link_codes WHERE code_hash = ?", (code_hash,))
            # Consent to tuning stays only if both sides had given it: joining must never
            # put someone's conversations into a dataset they did not agree to.
            await self._all(
                "UPDATE users SET tuning_consent = tuning_consent * (SELECT tuning_consent"
                " FROM users WHERE id = ?) WHERE id = ?",
                (mine, target),
            )
            await self._all(
                "UPDATE users SET person_id = ?, tuning_consent = 0 WHERE id = ? OR person_id = ?",
                (target, mine, mine),
            )
            return LinkOutcome.LINKED

    async def burn_link(self, code_hash: str) -> None:
        """A code was seen by others: it stops working, whoever issued it."""
        await self._statement("DELETE FROM link_codes WHERE code_hash = ?", (code_hash,))

    async def unlink(self, user_id: int) -> bool:
        """Separate this identity from the person it was linked with; False if it was not.

        Each side keeps what it wrote and the person's current choices.
        """
        async with self._write():
            rows = await self._all(IDENTITIES_SQL, (user_id, user_id))
            others = sorted(r[0] for r in rows if r[0] != user_id)
            if not others:
                return False
            ((root, lang, persona, consent, consent_at),) = await self._all(
                "SELECT id, lang, persona, tuning_consent, consent_at FROM users"
                f" WHERE id = {PERSON}",
                (user_id,),
            )
            if root == user_id:
                # The others read their choices from this identity: give them a new root.
                heir = others[0]
                await self._all(
                    "UPDATE users SET person_id = CASE id WHEN ? THEN NULL ELSE ? END,"
                    " lang = CASE id WHEN ? THEN ? ELSE lang END,"
                    " persona = CASE id WHEN ? THEN ? ELSE persona END,"
                    " tuning_consent = CASE id WHEN ? THEN ? ELSE 0 END,"
                    " consent_at = CASE id WHEN ? THEN ? ELSE consent_at END"
                    " WHERE person_id = ?",
                    (heir, heir, heir, lang, heir, persona, heir, consent, heir, consent_at)
                    + (user_id,),
                )
            else:
                # Consent too: an old "on" left on this row must not come back.
                await self._all(
                    "UPDATE users SET person_id = NULL, lang = ?, persona = ?,"
                    " tuning_consent = ?, consent_at = ? WHERE id = ?",
                    (lang, persona, consent, consent_at, user_id),
                )
            return True

    async def forget(self, user_id: int) -> int:
        """Erase the person (every linked identity) and all stored about them; how many
        messages went."""
        async with self._write():
            ids = [r[0] for r in await self._all(IDENTITIES_SQL, (user_id, user_id))]
            marks = ",".join("?" * len(ids))
            ((count,),) = await self._all(
                f"SELECT count(*) FROM messages WHERE user_id IN ({marks})", tuple(ids)
            )
            # ON DELETE CASCADE removes conversations, messages, facts and link codes with
            # the user rows (migrations 003 and 006 index the lookups the cascade makes).
            await self._all(f"DELETE FROM users WHERE id IN ({marks})", tuple(ids))
            # The full-text index only marks deleted rows until its segments merge: merge
            # them now, so no word of this person's stays in the file (costs a rewrite of
            # the index; /forget is rare).
            await self._all("INSERT INTO recall_fts (recall_fts) VALUES ('optimize')")
            # Ids of erased rows can come back: embedders and the index look again from there.
            for mark in ("embedded", "recall_indexed"):
                await self._all(
                    f"UPDATE {mark} SET through ="
                    " min(through, (SELECT coalesce(max(id), 0) FROM messages))"
                )
            # The other process drops its cached vectors when it sees this change.
            await self._all(
                "INSERT INTO erasures (id, count) VALUES (1, 1)"
                " ON CONFLICT (id) DO UPDATE SET count = count + 1"
            )
        await self._truncate_wal()
        return int(count)

    async def _truncate_wal(self) -> None:
        """Copy the WAL into the file and empty it: it still holds erased pages as they were.

        A reader in the other process can keep the checkpoint from finishing: try again for
        a while, then say so (the next checkpoint that completes overwrites them).
        """
        for attempt in range(50):
            ((busy, _, _),) = await self._all("PRAGMA wal_checkpoint(TRUNCATE)")
            if not busy:
                return
            await asyncio.sleep(min(0.01 * 2**attempt, 0.2))
        log.warning("the write-ahead log could not be emptied after an erasure: still in use")
