"""Feedback on SQLite: ratings of replies, the exchange a regenerated answer redoes, consent."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import aiosqlite

from bot.types import Outcome, Rated, Redo, TurnRef
from storage.sqlite.connection import Database
from storage.sqlite.turns import REPLY_SQL
from storage.sqlite.users import PERSON

# Answers a person may rate: the model's, finished and shown (a replaced one still was).
_RATEABLE = (Outcome.OK.value, Outcome.SUPERSEDED.value)


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


class FeedbackQueries(Database):
    """Ratings and regenerations, each checked against the asking person's identities."""

    async def rate(
        self, user_ids: Sequence[int], reply_id: int, rating: int | None, reason: str | None = None
    ) -> Rated:
        """Rate one of the person's answers (1, -1, or None to take the rating back).

        A thumbs down keeps its earlier reason unless a new one is given; any other
        rating drops it.
        """
        if rating not in (1, -1, None):
            raise ValueError(f"a rating is 1, -1 or None, not {rating!r}")
        row = await self._one(
            "SELECT user_id, role, kind, outcome FROM messages WHERE id = ?", (reply_id,)
        )
        if row is None or row[1] != "assistant" or row[2] != "chat" or row[3] not in _RATEABLE:
            return Rated.GONE
        if row[0] not in user_ids:
            return Rated.NOT_YOURS
        await self._statement(
            "UPDATE messages SET rating = ?1, rated_at = ?2,"
            " rating_reason = CASE WHEN ?1 = -1 THEN coalesce(?3, rating_reason) END"
            f" WHERE id = ?4 AND user_id IN ({_marks(user_ids)})",
            (rating, time.time() if rating else None, reason, reply_id, *user_ids),
        )
        return Rated.OK

    async def latest_reply(self, user_ids: Sequence[int], chat_id: str) -> int | None:
        """The person's newest answer that may be rated in this chat (for /good and /bad)."""
        row = await self._one(
            "SELECT max(id) FROM messages"
            f" WHERE user_id IN ({_marks(user_ids)}) AND chat_id = ? AND role = 'assistant'"
            " AND kind = 'chat' AND outcome = 'ok'",
            (*user_ids, chat_id),
        )
        return None if row is None else row[0]

    async def rated_down(self, user_ids: Sequence[int], chat_id: str, since: float) -> int | None:
        """The answer the person last rated 👎 in this chat since `since`, still without a
        reason: where a reason sent after the button belongs."""
        row = await self._one(
            "SELECT id FROM messages"
            f" WHERE user_id IN ({_marks(user_ids)}) AND chat_id = ? AND role = 'assistant'"
            " AND rating = -1 AND rating_reason IS NULL AND rated_at >= ?"
            " ORDER BY rated_at DESC LIMIT 1",
            (*user_ids, chat_id, since),
        )
        return None if row is None else row[0]

    async def redo(
        self, user_ids: Sequence[int], conversation_id: int, reply_id: int | None
    ) -> tuple[Rated, Redo | None]:
        """The exchange a regenerated answer replaces: the newest of the conversation.

        `reply_id` names the answer to replace (a button), None the newest exchange
        whatever became of it (/retry after a failure, too).
        """
        latest = await self._one(
            "SELECT id, text, images FROM messages WHERE conversation_id = ?"
            " AND role = 'user' AND kind = 'chat' ORDER BY id DESC LIMIT 1",
            (conversation_id,),
        )
        if reply_id is not None:
            row = await self._one(
                "SELECT user_id, role, kind, outcome, reply_to FROM messages WHERE id = ?",
                (reply_id,),
            )
            # ↻ under a restart's note names the interrupted turn itself: it has no answer.
            if row is None or row[2] != "chat" or not _answer_or_interrupted(row[1], row[3]):
                return Rated.GONE, None
            if row[0] not in user_ids:
                return Rated.NOT_YOURS, None
            asked = row[4] if row[1] == "assistant" else reply_id
            if row[1] == "assistant" and row[3] != Outcome.OK.value:
                return Rated.NOT_LATEST, None
            if latest is None or asked != latest[0]:
                return Rated.NOT_LATEST, None
        if latest is None:
            return Rated.GONE, None
        prompt_id, text, images = latest
        kept = await self._one(
            "SELECT id, persona FROM messages WHERE reply_to = ? AND outcome = 'ok'"
            " ORDER BY id DESC LIMIT 1",
            (prompt_id,),
        )
        reply, persona = kept if kept else (None, None)
        return Rated.OK, Redo(prompt_id, text, images, reply, persona)

    async def redoable(self, user_ids: Sequence[int], chat_id: str, reply_id: int) -> Rated:
        """Whether ↻ on this answer would regenerate it, read without writing anything: it
        must be the person's, here, and the newest answer of their open conversation."""
        row = await self._one(
            "SELECT r.user_id, r.role, r.kind, r.outcome, r.chat_id, c.active,"
            " coalesce(r.reply_to, r.id) = (SELECT max(u.id) FROM messages u"
            "  WHERE u.conversation_id = r.conversation_id AND u.role = 'user'"
            "  AND u.kind = 'chat')"
            " FROM messages r JOIN conversations c ON c.id = r.conversation_id WHERE r.id = ?",
            (reply_id,),
        )
        # An answer, or (↻ under a restart's note) the interrupted turn itself.
        if row is None or row[2] != "chat" or not _answer_or_interrupted(row[1], row[3]):
            return Rated.GONE
        owner, role, _, outcome, chat, active, newest = row
        if owner not in user_ids:
            return Rated.NOT_YOURS
        stands = role == "user" or outcome == Outcome.OK.value
        if not stands or chat != chat_id or not active or not newest:
            return Rated.NOT_LATEST
        return Rated.OK

    async def complete_again(
        self,
        ref: TurnRef,
        *,
        reply: str,
        outcome: Outcome,
        tokens: int,
        first_token_ms: int | None,
        latency_ms: int,
        persona: str | None = None,
    ) -> TurnRef:
        """Record a regenerated answer to `ref.prompt_id`; the one it replaces stops counting.

        One transaction: an ok answer supersedes `ref.replaces`; a failed one leaves the
        exchange with the answer it had (the messages_settle trigger gave the user's turn
        the failure's outcome: it is put back).
        """
        async with self._write() as conn:
            rows = await conn.execute_fetchall(
                REPLY_SQL,
                (reply, Outcome(outcome).value, tokens, time.time(), first_token_ms)
                + (latency_ms, persona, ref.prompt_id, ref.user_id),
            )
            if not rows:
                return ref  # the person was erased while the model answered
            done = replace(ref, reply_id=list(rows)[0][0])
            if outcome is Outcome.OK:
                await conn.execute(
                    "UPDATE messages SET outcome = 'superseded'"
                    " WHERE id = ? AND user_id = ? AND outcome = 'ok'",
                    (ref.replaces, ref.user_id),
                )
            else:
                await _restore(conn, done)
        return done

    async def unsupersede(self, ref: TurnRef, outcome: Outcome) -> None:
        """A regenerated answer never reached the person: the one it replaced counts again."""
        async with self._write() as conn:
            await conn.execute(
                "UPDATE messages SET outcome = ? WHERE id = ? AND user_id = ?",
                (Outcome(outcome).value, ref.reply_id, ref.user_id),
            )
            await conn.execute(
                "UPDATE messages SET outcome = 'ok' WHERE id = ? AND user_id = ?"
                " AND outcome = 'superseded'",
                (ref.replaces, ref.user_id),
            )
            await _restore(conn, ref)

    async def set_consent(self, user_id: int, consent: bool) -> None:
        """Whether the person's conversations may go into tuning datasets (all identities)."""
        await self._statement(
            f"UPDATE users SET tuning_consent = ?, consent_at = ? WHERE id = {PERSON}",
            (int(consent), time.time(), user_id),
        )

    async def consent(self, user_id: int) -> bool:
        row = await self._one(f"SELECT tuning_consent FROM users WHERE id = {PERSON}", (user_id,))
        return bool(row and row[0])


def _answer_or_interrupted(role: str, outcome: str) -> bool:
    """What ↻ may name: an answer, or a user's turn a restart interrupted (it has none)."""
    return role == "assistant" or outcome == Outcome.INTERRUPTED.value


async def _restore(conn: aiosqlite.Connection, ref: TurnRef) -> None:
    """The user's turn ok again when the answer it had still counts."""
    await conn.execute(
        "UPDATE messages SET outcome = 'ok' WHERE id = ? AND user_id = ?"
        " AND EXISTS (SELECT 1 FROM messages r WHERE r.id = ? AND r.outcome = 'ok')",
        (ref.prompt_id, ref.user_id, ref.replaces),
    )
