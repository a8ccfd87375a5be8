"""Recall on SQLite: a person's earlier conversations searched by their words (FTS5, BM25)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.types import Recalled
from storage.sqlite.connection import Database
from storage.sqlite.terms import recall_terms

# The best matches among one person's answered chat turns outside the current
# conversation, each with its pair: the reply to a question, or the question a reply
# answers. Every term is the person's own (see recall_terms), so FTS5 reads only theirs;
# the index alone ranks them, and only the best candidates' rows of messages are read:
# enough that a long current conversation on the same words cannot crowd out the rest.
RECALL_SQL = (
    "SELECT m.role, m.text, m.created_at, p.text"
    " FROM (SELECT rowid AS id, rank FROM recall_fts WHERE recall_fts MATCH ?"
    "  ORDER BY rank LIMIT ?) hit"
    " JOIN messages m ON m.id = hit.id"
    " LEFT JOIN messages p ON p.user_id = m.user_id AND p.outcome = 'ok'"
    "  AND p.id = (CASE m.role WHEN 'user'"
    "   THEN (SELECT r.id FROM messages r WHERE r.reply_to = m.id) ELSE m.reply_to END)"
    " WHERE m.user_id = ? AND m.conversation_id != ? AND m.kind = 'chat' AND m.outcome = 'ok'"
    " ORDER BY hit.rank LIMIT ?"
)
CANDIDATES = 250  # more than the turns a context window holds (its read stops at 200)
MAX_WORDS = 16


def match_expression(user_id: int, words: Sequence[str]) -> str | None:
    """The FTS5 query: this person's rows holding any of `words`; None when none is usable.

    Every term is quoted, so nothing a person writes is read as FTS5 syntax.
    """
    terms = recall_terms(user_id, " ".join(words)).split()[:MAX_WORDS]
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))


class RecallQueries(Database):
    """Full-text recall across one person's conversations."""

    async def recall(
        self, user_id: int, words: Sequence[str], *, exclude_conversation: int, limit: int = 5
    ) -> list[Recalled]:
        """The person's answered chat turns from other conversations that best match any of
        `words` (full text, accents folded), best first."""
        query = match_expression(user_id, words)
        if query is None or limit <= 0:
            return []
        params = (query, max(CANDIDATES, limit), user_id, exclude_conversation, limit)
        rows = await self._read(RECALL_SQL, params)
        return [Recalled(role, text, said_at, partner) for role, text, said_at, partner in rows]
