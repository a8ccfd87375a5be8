"""Vectors on SQLite: chat turns embedded in the background, searched per person by meaning."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from storage.sqlite.connection import Database

# Embedding inputs are cut here: a long paste says what it is about in its start.
EMBED_CHARS = 2000
CACHE_BYTES = 256 * 1024 * 1024  # per process, for the people who talked most lately
LOAD_WAIT = 0.5  # seconds a reply waits for a person's vectors to be read into memory

log = logging.getLogger(__name__)


def _built(rows: Sequence[Any]) -> _Matrix:
    matrix = _Matrix()
    if rows:
        matrix.extend([r[:4] for r in rows])
    return matrix


def _vectors_sql(ids: Sequence[int]) -> str:
    """A person's vectors after a message id; its first row counts erasures so far (if one
    happened since the last look, in either process, nothing cached may stay)."""
    marks = ",".join("?" * len(ids))
    return (
        "SELECT -1, 0, '', x'', coalesce((SELECT count FROM erasures WHERE id = 1), 0)"
        " UNION ALL SELECT message_id, conversation_id, chat_id, vector, 0 FROM vectors"
        f" WHERE user_id IN ({marks}) AND embedder = ? AND message_id > ? ORDER BY 1"
    )


Floats = npt.NDArray[np.float32]
VectorKey = tuple[str, tuple[int, ...]]  # (embedder, the person's identities)


@dataclass(slots=True)
class _Matrix:
    """One person's vectors in memory, grown in place as new ones are stored."""

    through: int = 0  # the newest message id loaded
    size: int = 0  # rows in use; the arrays have room for more
    rows: Floats = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    conversations: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    chats: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes)

    def extend(self, rows: Sequence[tuple[int, int, str, bytes]]) -> None:
        fresh = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), -1)
        need = self.size + len(rows)
        if need > len(self.rows) or self.rows.shape[1] != fresh.shape[1]:
            # Double the room: a person who keeps talking costs amortised copies only.
            room = max(need, 2 * len(self.rows), 64)
            grown = np.zeros((room, fresh.shape[1]), np.float32)
            if self.size:
                grown[: self.size] = self.rows[: self.size]
            self.rows = grown
            self.ids = np.resize(self.ids, room)
            self.conversations = np.resize(self.conversations, room)
            self.chats = np.resize(self.chats, room)
        end = self.size + len(rows)
        self.rows[self.size : end] = fresh
        self.ids[self.size : end] = [r[0] for r in rows]
        self.conversations[self.size : end] = [r[1] for r in rows]
        self.chats[self.size : end] = [r[2] for r in rows]
        self.size = end
        self.through = int(rows[-1][0])


class VectorQueries(Database):
    """Writing vectors, and the exact nearest search over one person's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # People's vectors in memory, the least recently used first.
        self._matrices: OrderedDict[VectorKey, _Matrix] = OrderedDict()
        self._loads: dict[VectorKey, asyncio.Task[None]] = {}  # first reads in flight
        self._erasures = 0  # erasures counted when the cache was last checked

    async def close(self) -> None:
        for task in list(self._loads.values()):
            task.cancel()
        await super().close()

    async def unembedded(self, embedder: str, *, limit: int = 64) -> list[tuple[int, int, str]]:
        """Chat turns this embedder has not seen yet, oldest first: (id, user id, text)."""
        rows = await self._read(
            "SELECT id, user_id, substr(text, 1, ?) FROM messages"
            " WHERE id > coalesce((SELECT through FROM embedded WHERE embedder = ?), 0)"
            " AND kind = 'chat' ORDER BY id LIMIT ?",
            (EMBED_CHARS, embedder, limit),
        )
        return [(int(i), int(u), str(text)) for i, u, text in rows]

    async def keep_vectors(
        self, embedder: str, found: Sequence[tuple[int, int, Sequence[float]]], *, through: int
    ) -> None:
        """Store vectors of (message id, user id, vector) and move this embedder's mark to
        message `through`.

        A vector lands only on the message it was made from: same id, same person. If the
        person was erased meanwhile and another message took the id (ids of erased rows can
        come back), that message is left for the next batch rather than passed over.
        """
        async with self._write() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO vectors"
                " (message_id, embedder, user_id, conversation_id, chat_id, vector)"
                " SELECT id, ?, user_id, conversation_id, chat_id, ? FROM messages"
                " WHERE id = ? AND user_id = ?",
                [
                    (embedder, np.asarray(v, dtype="<f4").tobytes(), message_id, user_id)
                    for message_id, user_id, v in found
                ],
            )
            ids = [message_id for message_id, _, _ in found]
            marks = ",".join("?" * len(ids))
            async with conn.execute(
                f"SELECT min(m.id) FROM messages m WHERE m.id IN ({marks}) AND NOT EXISTS"
                " (SELECT 1 FROM vectors v WHERE v.message_id = m.id AND v.embedder = ?)",
                (*ids, embedder),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0] is not None:
                through = min(through, int(row[0]) - 1)
            await conn.execute(
                "INSERT INTO embedded (embedder, through) VALUES (?, ?) ON CONFLICT (embedder)"
                " DO UPDATE SET through = max(through, excluded.through)",
                (embedder, through),
            )

    async def claim_embedding(
        self, embedder: str, holder: str, *, now: float, hold: float
    ) -> float:
        """0.0 when `holder` has the embedder's claim until now + hold (taken if free or
        run out, renewed if already its own), else when the other holder's claim ends."""
        taken = await self._statement(
            "INSERT INTO embedded (embedder, through, holder, held_until) VALUES (?, 0, ?, ?)"
            " ON CONFLICT (embedder) DO UPDATE SET holder = excluded.holder,"
            " held_until = excluded.held_until WHERE embedded.holder IS NULL"
            " OR embedded.holder = excluded.holder OR embedded.held_until <= ? RETURNING 1",
            (embedder, holder, now + hold, now),
        )
        if taken:
            return 0.0
        rows = await self._read("SELECT held_until FROM embedded WHERE embedder = ?", (embedder,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else now

    async def release_embedding(self, embedder: str, holder: str) -> None:
        await self._statement(
            "UPDATE embedded SET holder = NULL, held_until = NULL"
            " WHERE embedder = ? AND holder = ?",
            (embedder, holder),
        )

    async def nearest(
        self,
        user_ids: Sequence[int],
        embedder: str,
        query: Sequence[float],
        *,
        exclude_conversation: int,
        chat_id: str | None = None,
        limit: int = 50,
    ) -> list[int]:
        """Ids of the person's turns closest in meaning to `query`, best first (exact).

        [] while the person's vectors are still being read into memory: a reply never
        waits seconds for someone with a long history (recall by words serves meanwhile).
        """
        matrix = await self._matrix(tuple(sorted(user_ids)), embedder)
        n = 0 if matrix is None else matrix.size
        if matrix is None or n == 0:
            return []
        scores = matrix.rows[:n] @ np.asarray(query, dtype=np.float32)
        # The current conversation (and, from a group, every other chat) never competes.
        keep = matrix.conversations[:n] != exclude_conversation
        if chat_id is not None:
            keep &= matrix.chats[:n] == chat_id
        top = min(limit, int(keep.sum()))
        if top <= 0:
            return []
        scores = np.where(keep, scores, -np.inf)
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        return [int(i) for i in matrix.ids[best]]

    async def _matrix(self, ids: tuple[int, ...], embedder: str) -> _Matrix | None:
        """The person's vectors, brought up to date; None while a first read is running."""
        cache = self._matrices
        key = (embedder, ids)
        matrix = cache.pop(key, None)
        if matrix is not None:
            head, *rows = await self._read(_vectors_sql(ids), (*ids, embedder, matrix.through))
            if head[4] == self._erasures:
                if rows:
                    matrix.extend([r[:4] for r in rows])
                self._keep(key, matrix)
                return matrix
            # Someone was erased (in either process): nothing cached may stay.
            self._drop_cached_vectors()
        loads = self._loads
        task = loads.get(key)
        if task is None:
            task = loads[key] = asyncio.create_task(self._load(key))
            task.add_done_callback(lambda _: loads.pop(key, None))
        # A short history loads in a few ms: wait that long, not more.
        await asyncio.wait({task}, timeout=LOAD_WAIT)
        return cache.get(key)

    async def _load(self, key: VectorKey) -> None:
        """Read a person's vectors on a connection of its own: the per-message reads go on."""
        embedder, ids = key
        conn = await self._connect()
        try:
            head, *rows = await conn.execute_fetchall(_vectors_sql(ids), (*ids, embedder, 0))
        except sqlite3.Error as exc:
            log.warning("could not read vectors: %s", exc)
            return
        finally:
            await conn.close()
        if head[4] != self._erasures:
            self._drop_cached_vectors()
            self._erasures = head[4]
        # Hundreds of megabytes for a long history: built on a thread, off the event loop.
        matrix = await asyncio.to_thread(_built, rows)
        self._keep(key, matrix)

    def _keep(self, key: VectorKey, matrix: _Matrix) -> None:
        cache = self._matrices
        cache[key] = matrix  # the most recently used last
        while sum(m.nbytes for m in cache.values()) > CACHE_BYTES and len(cache) > 1:
            cache.popitem(last=False)

    def _drop_cached_vectors(self) -> None:
        """After /forget: no vector of an erased person stays in this process's memory."""
        self._matrices.clear()
