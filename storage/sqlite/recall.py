"""Recall on SQLite: a person's earlier conversations searched by their words (FTS5, BM25)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.types import Recalled
from storage.sqlite.connection import Database
from storage.sqlite.terms import recall_terms

# The best matches among one person's answered chat turns outside the current
# conversation (and, from a group, only in that group), each with its pair: the reply
# to a question, or the question a reply answers. Every term is the person's own (see
# recall_terms), so FTS5 reads only theirs; the index ranks and filters them, and only
# the best candidates' rows of messages are read.
_HITS = (
    "SELECT rowid AS id, rank FROM recall_fts"
    " WHERE recall_fts MATCH ? AND conversation_id != ?{chat} ORDER BY rank LIMIT ?"
)
_PAIRS = (
    "SELECT m.role, m.text, m.created_at, p.text FROM ({hits}) hit"
    " JOIN messages m ON m.id = hit.id"
    " LEFT JOIN messages p ON p.user_id = m.user_id AND p.outcome = 'ok'"
    "  AND p.id = (CASE m.role WHEN 'user'"
    "   THEN (SELECT r.id FROM messages r WHERE r.reply_to = m.id) ELSE m.reply_to END)"
    " WHERE m.user_id IN ({people}) AND m.kind = 'chat' AND m.outcome = 'ok'"
    " ORDER BY hit.rank LIMIT ?"
)
RECALL_SQL = _PAIRS.format(hits=_HITS.format(chat=""), people="{people}")
RECALL_IN_CHAT_SQL = _PAIRS.format(hits=_HITS.format(chat=" AND chat_id = ?"), people="{people}")
INDEX_SQL = "INSERT INTO recall_fts (rowid, terms, conversation_id, chat_id) VALUES (?, ?, ?, ?)"
CANDIDATES = 50  # a few failed or settled-later turns among the best still leave enough
MAX_WORDS = 16


def match_expression(user_ids: Sequence[int], words: Sequence[str]) -> str | None:
    """The FTS5 query: this person's rows holding any of `words`; None when none is usable.

    A linked person's words are searched as each of their identities' terms. Every term
    is quoted, so nothing a person writes is read as FTS5 syntax.
    """
    text = " ".join(words)
    firsts = [recall_terms(uid, text).split()[:MAX_WORDS] for uid in user_ids]
    terms = [t for some in firsts for t in some]
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))


class RecallQueries(Database):
    """Full-text recall across one person's conversations."""

    async def recall(
        self,
        user_id: int | Sequence[int],
        words: Sequence[str],
        *,
        exclude_conversation: int,
        chat_id: str | None = None,
        limit: int = 5,
    ) -> list[Recalled]:
        """The person's answered chat turns from other conversations (in `chat_id` only,
        when given) that best match any of `words` (full text, accents folded), best first.

        `user_id` may be every identity of a linked person."""
        ids = (user_id,) if isinstance(user_id, int) else tuple(user_id)
        query = match_expression(ids, words)
        if query is None or limit <= 0:
            return []
        candidates = max(CANDIDATES, limit)
        hits: tuple[str | int, ...]
        if chat_id is None:
            sql, hits = RECALL_SQL, (query, exclude_conversation, candidates)
        else:
            sql, hits = RECALL_IN_CHAT_SQL, (query, exclude_conversation, chat_id, candidates)
        people = ",".join("?" * len(ids))
        rows = await self._read(sql.format(people=people), (*hits, *ids, limit))
        return [Recalled(role, text, said_at, partner) for role, text, said_at, partner in rows]
