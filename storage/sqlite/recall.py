"""Recall on SQLite: a person's earlier conversations searched by their words (FTS5, BM25)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.types import Recalled
from storage.sqlite.terms import recall_terms, words_of
from storage.sqlite.vectors import VectorQueries

# The best matches among one person's answered chat turns outside the current
# conversation (and, from a group, only in that group), each with its pair: the reply
# to a question, or the question a reply answers. Every term is the person's own (see
# recall_terms), so FTS5 reads only theirs; the index ranks and filters them, and only
# the best candidates' rows of messages are read.
_HITS = (
    "SELECT rowid AS id, rank FROM recall_fts"
    " WHERE recall_fts MATCH ? AND conversation_id != ?{chat} ORDER BY rank LIMIT ?"
)
# A hit's pair, and what makes a turn recallable at all: an answered chat turn.
_PAIRED = (
    " LEFT JOIN messages p ON p.user_id = m.user_id AND p.outcome = 'ok'"
    "  AND p.id = (CASE m.role WHEN 'user'"
    # A regenerated exchange has several answers: the one that stands is the newest ok.
    "   THEN (SELECT r.id FROM messages r WHERE r.reply_to = m.id AND r.outcome = 'ok'"
    "    ORDER BY r.id DESC LIMIT 1) ELSE m.reply_to END)"
    " WHERE m.user_id IN ({people}) AND m.kind = 'chat' AND m.outcome = 'ok'"
)
_PAIRS = (
    "SELECT m.role, m.text, m.created_at, p.text FROM ({hits}) hit"
    " JOIN messages m ON m.id = hit.id" + _PAIRED + " ORDER BY hit.rank LIMIT ?"
)
# The same pairs for hits found by id (full text and vectors fused), in any order.
_PAIRS_BY_ID = (
    "SELECT m.id, m.role, m.text, m.created_at, p.text FROM messages m"
    + _PAIRED
    + " AND m.id IN ({ids})"
)
RRF_K = 60  # reciprocal rank fusion's constant, as in Cormack et al. (2009)
CANDIDATES = 50  # a few failed or settled-later turns among the best still leave enough
MAX_WORDS = 16
# Ranking every turn that holds a word is what made a search slow for someone with
# 100,000 messages ("que" was in 63,000 of them), and such a word tells turns apart
# poorly anyway. The rarest words are searched, while the turns they hold add up to at
# most ROWS; the rarest one always, unless even it is in more than COMMON turns.
ROWS = 4000
COMMON = 8000
KEEP_WORDS = 6
_COMMON_TERMS_KEPT = 200_000


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


def _hits(
    query: str, exclude_conversation: int, chat_id: str | None, candidates: int
) -> tuple[str, tuple[str | int, ...]]:
    """The full-text candidates' query and its parameters: from `chat_id` only, if given."""
    if chat_id is None:
        return _HITS.format(chat=""), (query, exclude_conversation, candidates)
    return _HITS.format(chat=" AND chat_id = ?"), (query, exclude_conversation, chat_id, candidates)


def fuse(*rankings: Sequence[int]) -> list[int]:
    """Ids ranked by reciprocal rank fusion: by rank alone, never by any score's scale."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking):
            scores[id_] = scores.get(id_, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores, key=lambda i: -scores[i])


class RecallQueries(VectorQueries):
    """Recall across one person's conversations: full text, fused with vectors when given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._common_terms: dict[str, None] = {}  # terms found in more than COMMON turns

    async def recall(
        self,
        user_id: int | Sequence[int],
        words: Sequence[str],
        *,
        exclude_conversation: int,
        chat_id: str | None = None,
        limit: int = 5,
        vector: Sequence[float] | None = None,
        embedder: str = "",
    ) -> list[Recalled]:
        """The person's answered chat turns from other conversations (in `chat_id` only,
        when given) that best match any of `words` (full text, accents folded), best first.

        `user_id` may be every identity of a linked person. With the message's `vector`
        (from `embedder`), the person's turns nearest in meaning join by rank fusion."""
        ids = (user_id,) if isinstance(user_id, int) else tuple(user_id)
        query = match_expression(ids, await self._telling(ids, words))
        if vector is not None and limit > 0:
            return await self._fused(
                ids, query, vector, embedder, exclude_conversation, chat_id, limit
            )
        if query is None or limit <= 0:
            return []
        hits, params = _hits(query, exclude_conversation, chat_id, max(CANDIDATES, limit))
        sql = _PAIRS.format(hits=hits, people=",".join("?" * len(ids)))
        rows = await self._read(sql, (*params, *ids, limit))
        return [Recalled(role, text, said_at, partner) for role, text, said_at, partner in rows]

    async def _fused(
        self,
        ids: tuple[int, ...],
        query: str | None,
        vector: Sequence[float],
        embedder: str,
        exclude_conversation: int,
        chat_id: str | None,
        limit: int,
    ) -> list[Recalled]:
        by_words: list[int] = []
        if query is not None:
            hits, params = _hits(query, exclude_conversation, chat_id, CANDIDATES)
            by_words = [r[0] for r in await self._read(hits, params)]
        by_meaning = await self.nearest(
            ids,
            embedder,
            vector,
            exclude_conversation=exclude_conversation,
            chat_id=chat_id,
            limit=CANDIDATES,
        )
        ranked = fuse(by_words, by_meaning)[:CANDIDATES]
        if not ranked:
            return []
        sql = _PAIRS_BY_ID.format(ids=",".join("?" * len(ranked)), people=",".join("?" * len(ids)))
        found = {r[0]: r[1:] for r in await self._read(sql, (*ids, *ranked))}
        best = [found[i] for i in ranked if i in found][:limit]
        return [Recalled(role, text, said_at, partner) for role, text, said_at, partner in best]

    async def _telling(self, ids: tuple[int, ...], words: Sequence[str]) -> list[str]:
        """Of `words`, those the person used, rarest first, leaving out the common ones.

        Counting a word's turns costs as much as its turns are many, so the words found
        common are remembered (per process) and never counted again.
        """
        common = self._common_terms
        tokens = list(dict.fromkeys(t.lower() for w in words for t in words_of(w)))[:MAX_WORDS]
        terms = {t: [f"u{uid}x{t}" for uid in ids] for t in tokens}
        wanted = [x for t in tokens if not any(x in common for x in terms[t]) for x in terms[t]]
        if not wanted:
            return []
        rows = await self._read(
            f"SELECT term, doc FROM recall_vocab WHERE term IN ({','.join('?' * len(wanted))})",
            tuple(wanted),
        )
        counts = dict(rows)
        if len(common) > _COMMON_TERMS_KEPT:
            common.clear()
        for term, doc in counts.items():
            if doc >= COMMON:
                common[term] = None
        df = {t: sum(counts.get(x, 0) for x in terms[t]) for t in tokens}
        kept: list[str] = []
        held = 0
        for token in sorted((t for t in tokens if 0 < df[t] < COMMON), key=lambda t: df[t]):
            if len(kept) == KEEP_WORDS or (kept and held + df[token] > ROWS):
                break
            kept.append(token)
            held += df[token]
        return kept
