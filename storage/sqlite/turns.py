"""Turns on SQLite: store a user's turn, read the context window, record and settle replies."""

from __future__ import annotations

import json
import logging
import time

from bot.types import (
    ConversationKey,
    Fact,
    Ingested,
    Outcome,
    StoredTurn,
    Summary,
    TurnKind,
    TurnRef,
    User,
)
from storage.sqlite.connection import Database
from storage.sqlite.users import PERSON_IDS, PERSON_IDS_TEXT, linked

log = logging.getLogger(__name__)

# The context window: newest usable turns of one conversation, read through messages_window
# (the WHERE must imply the partial index's own for SQLite to use it).
WINDOW_SQL = (
    "SELECT role, text, tokens, id FROM messages"
    " WHERE user_id = ? AND conversation_id = ? AND kind = 'chat' AND outcome = 'ok'"
    " AND id > ? AND id < ? ORDER BY id DESC LIMIT ?"
)

# A model's reply, copied from its prompt's row (user, conversation, chat, kind), found by
# id and user: a ref can only ever answer its own person's turn. Parameters: text, outcome,
# tokens, created_at, first_token_ms, latency_ms, persona, prompt id, user id.
REPLY_SQL = (
    "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind,"
    " outcome, tokens, created_at, first_token_ms, latency_ms, persona, reply_to)"
    " SELECT user_id, conversation_id, chat_id, 'assistant', ?, kind, ?, ?, ?, ?, ?, ?,"
    " id FROM messages WHERE id = ? AND user_id = ?"
    " RETURNING id, conversation_id, chat_id, kind"
)

MAX_FACTS = 200  # the most a context could ever show
_LAST_ID = 2**63 - 1  # SQLite's largest rowid: a window with no upper bound

# Who is talking, the choices of the person they are (shared by linked identities), every
# identity of that person, and their open conversation in this chat with its summary.
KNOWN_SQL = (
    "SELECT u.id, p.lang, p.persona, u.display_name, c.id, c.summary, c.summary_through,"
    f" {PERSON_IDS_TEXT},"
    # The facts that hold, newest first, in the same hop: most people have none.
    " (SELECT json_group_array(json_array(held.id, held.text, held.created_at, held.source,"
    "  held.chat_id))"
    "  FROM (SELECT * FROM facts f WHERE f.valid_until IS NULL AND f.user_id IN"
    f"   {PERSON_IDS}"
    f"   ORDER BY f.id DESC LIMIT {MAX_FACTS}) held),"
    # Conversations of the person's: with none but this one, there is nothing to recall.
    f" (SELECT count(*) FROM conversations k WHERE k.user_id IN {PERSON_IDS})"
    " FROM users u JOIN users p ON p.id = coalesce(u.person_id, u.id)"
    " LEFT JOIN conversations c ON c.user_id = u.id AND c.chat_id = ? AND c.active = 1"
    " WHERE u.platform = ? AND u.platform_user_id = ?"
)


class TurnQueries(Database):
    """The per-message path: every statement here is one hop to the worker thread."""

    async def ingest(
        self,
        key: ConversationKey,
        *,
        display_name: str,
        platform_message_id: str | None,
        text: str,
        kind: TurnKind,
        tokens: int = 0,
        images: int = 0,
    ) -> Ingested | None:
        """Store a user's turn (outcome pending); None when this platform message is stored."""
        now = time.time()
        # Most turns come from someone known, in a conversation already open: one read
        # finds both, and the turn's only write is its own row. Writing the user's row
        # every time would also burn an AUTOINCREMENT id per message (migration 004).
        found = await self._read(KNOWN_SQL, (key.chat_id, key.platform, key.user_id))
        known = found[0] if found else None
        # A linked identity reads its person's choices (from KNOWN_SQL), not its own row's.
        row = known
        if known is None or known[3] != display_name:
            (upserted,) = await self._statement(
                "INSERT INTO users (platform, platform_user_id, display_name, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (platform, platform_user_id)"
                " DO UPDATE SET display_name = excluded.display_name"
                " RETURNING id, lang, persona",
                (key.platform, key.user_id, display_name, now),
            )
            row = row or upserted
        assert row is not None
        user = User(
            row[0], key.platform, key.user_id, row[1], row[2], linked(known[7] if known else None)
        )
        summary, facts = None, _facts(known)
        if known is not None and known[4] is not None:
            conversation_id = known[4]
            if known[5] is not None:
                summary = Summary(known[5], known[6])
        else:
            # The partial unique index allows one active conversation per user and chat:
            # this upsert returns it, creating it on the first message.
            ((conversation_id,),) = await self._statement(
                "INSERT INTO conversations (user_id, chat_id, started_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, chat_id) WHERE active = 1 DO UPDATE SET active = 1"
                " RETURNING id",
                (user.id, key.chat_id, now),
            )
        stored = await self._statement(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind,"
            " outcome, tokens, images, created_at, platform_message_id)"
            " VALUES (?, ?, ?, 'user', ?, ?, 'pending', ?, ?, ?, ?)"
            " ON CONFLICT (user_id, chat_id, platform_message_id)"
            " WHERE platform_message_id IS NOT NULL DO NOTHING RETURNING id",
            (
                user.id,
                conversation_id,
                key.chat_id,
                text,
                TurnKind(kind).value,
                tokens,
                images,
                now,
                platform_message_id,
            ),
        )
        if not stored:
            return None
        # Made searchable in the background within half a second (connection.py): recall
        # never searches the conversation at hand, and one index write per batch instead of
        # one per message keeps FTS5's merging out of the replies.
        ref = TurnRef(user.id, conversation_id, prompt_id=stored[0][0])
        others = 0 if known is None else int(known[9]) - (known[4] is not None)
        return Ingested(user, ref, summary, facts, earlier=others > 0)

    async def window(
        self,
        user_id: int,
        conversation_id: int,
        *,
        after: int = 0,
        before: int | None = None,
        max_turns: int = 200,
    ) -> list[StoredTurn]:
        """The newest `ok` chat turns of one conversation after message `after` (and before
        `before`: the context a regenerated answer had), newest first (an indexed read)."""
        until = _LAST_ID if before is None else before
        rows = await self._read(WINDOW_SQL, (user_id, conversation_id, after, until, max_turns))
        return [StoredTurn(role, text, tokens, id_) for role, text, tokens, id_ in rows]

    async def complete(
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
        """Record the reply; the messages_settle trigger gives the user's turn its outcome.

        The reply copies its prompt's user, conversation, chat and kind from the prompt's
        row, found by id and user: a ref can only ever answer its own person's turn.
        """
        rows = await self._statement(
            REPLY_SQL,
            (reply, Outcome(outcome).value, tokens, time.time(), first_token_ms)
            + (latency_ms, persona, ref.prompt_id, ref.user_id),
        )
        if not rows:
            # The person was erased (/forget in another chat) while the model answered.
            log.info("reply to message %d not stored: its turn is gone", ref.prompt_id)
            return ref
        reply_id = rows[0][0]
        return TurnRef(ref.user_id, ref.conversation_id, ref.prompt_id, reply_id=reply_id)

    async def settle(self, ref: TurnRef, outcome: Outcome) -> None:
        """Change an exchange's outcome: the user's turn and its reply, if one is stored."""
        # One statement: the pair can never be seen half settled. `id IN (?, NULL)`
        # matches the prompt alone when there is no reply yet.
        await self._statement(
            "UPDATE messages SET outcome = ? WHERE user_id = ? AND id IN (?, ?)",
            (Outcome(outcome).value, ref.user_id, ref.prompt_id, ref.reply_id),
        )


def _facts(known: tuple[object, ...] | None) -> tuple[Fact, ...]:
    """The facts read with the person: (id, text, when, source, chat) rows as JSON."""
    if known is None or not known[8] or known[8] == "[]":
        return ()
    return tuple(
        Fact(int(i), str(text), float(at), source == "told", chat_id=str(chat))
        for i, text, at, source, chat in json.loads(str(known[8]))
    )
