"""The process's aiosqlite connections: open, pragmas, WAL, checkpoints and query helpers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import aiosqlite
from tenacity import (
    AsyncRetrying,
    retry_if_exception_message,
    stop_after_delay,
    wait_random_exponential,
)

from bot.ports import StorageError
from storage.sqlite.migrations import migrate
from storage.sqlite.processes import Heartbeat
from storage.sqlite.terms import recall_terms

log = logging.getLogger(__name__)

MMAP_BYTES = 256 * 1024 * 1024
CACHE_KIB = 32 * 1024
MERGE_PAGES = 16  # per background step of the full-text index's merging


class Database:
    """One long-lived connection per process, and the only ways queries reach it."""

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 10_000, checkpoint_every: float = 0.5
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._checkpoint_every = checkpoint_every
        self._checkpointer: asyncio.Task[None] | None = None
        self._conn: aiosqlite.Connection | None = None
        # The per-message reads run on their own connection (and worker thread): WAL lets
        # them overlap other chats' writes instead of queueing behind them.
        self._reader: aiosqlite.Connection | None = None
        # One connection serves every task of the process: transactions must not interleave.
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Checked here because a failed aiosqlite.connect() leaves its worker thread to
            # crash against the closed loop at exit, after our one-line error.
            with self.path.open("ab"):
                pass
        except OSError as exc:
            raise StorageError(f"TERTULIA_DB: cannot open {self.path}: {exc}") from None
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer waits for
        # the lock up front (busy timeout) instead of failing on a lock upgrade mid-way.
        conn = await self._connect()
        try:
            await self._enable_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Erased means gone: freed pages and cells are zeroed, not left for a reader of
            # the file to find (the cost is a write of zeros where a delete frees space).
            await conn.execute("PRAGMA secure_delete = ON")
            # A conversation's turns are spread over many pages of a big file: read them
            # through memory mapping and a larger page cache instead of a syscall per page.
            await conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            await conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # Checkpoints copy the WAL back into the file: a few ms of random writes. Left
            # to autocheckpoint they land inside whichever reply commits the 1000th page;
            # a background task on its own connection does them instead (_checkpoints).
            await conn.execute("PRAGMA wal_autocheckpoint = 0")
            # The full-text index's triggers (and migration 005) call it on every write.
            await conn.create_function("recall_terms", 2, recall_terms, deterministic=True)
            await migrate(conn)  # which leaves foreign keys on (the cascades of forget)
        except BaseException as exc:
            # aiosqlite's worker is not a daemon thread: an unclosed connection would keep
            # the process alive after a failed start-up.
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"TERTULIA_DB: cannot use {self.path}: {exc}") from None
            raise
        self._conn = conn
        try:
            self._reader = await self._connect()
            await self._reader.execute("PRAGMA query_only = 1")
            await self._reader.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        except BaseException:
            await self.close()
            raise
        self._checkpointer = asyncio.create_task(self._checkpoints(), name="sqlite-checkpoint")

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError(f"{type(self).__name__} is not open")
        return self._conn

    async def _checkpoints(self) -> None:
        """Merge the full-text index a little and checkpoint the WAL, twice a second, on a
        second connection, off the reply path.

        Often enough that the WAL (which readers search) stays small under full load, and
        that the index never piles up enough segments for an insert to merge them itself.
        """
        try:
            conn = await self._connect()
        except StorageError as exc:
            log.warning("no WAL checkpoints: %s", exc)
            return
        heartbeat = Heartbeat()
        try:
            # Its merges free pages of the index too: zeroed, like every other.
            await conn.execute("PRAGMA secure_delete = ON")
            # Checkpoints only as the step below, outside the write lock: left on, one of
            # this connection's commits would copy the WAL into the file (0.4 s on a 1M
            # message file) while holding the lock every reply's write waits for.
            await conn.execute("PRAGMA wal_autocheckpoint = 0")
            await conn.create_function("recall_terms", 2, recall_terms, deterministic=True)
            while True:
                await asyncio.sleep(self._checkpoint_every)
                # Every write below also holds the process's write lock: a reply's write
                # then waits for it in the loop and goes the moment it is free, instead
                # of meeting the file locked and sleeping in SQLite's busy handler (1, 2,
                # 5, 10 ms... between tries: the tail of the per-message overhead).
                # `tertulia status` lists the processes heard from lately: one small UPSERT
                # every few seconds (nothing on the other rounds).
                async with self._write_lock:
                    await _step(conn, "heartbeat", heartbeat.beat(conn))
                # Each step on its own: one that fails must not stop the others (a WAL
                # that is never checkpointed grows without end).
                async with self._write_lock:
                    await _step(conn, "recall indexing", index_pending(conn))
                # A bounded merge: at most MERGE_PAGES pages written, a few ms holding the
                # write lock, and nothing at all when no level needs merging.
                async with self._write_lock:
                    await _step(
                        conn,
                        "index merge",
                        conn.execute(
                            "INSERT INTO recall_fts (recall_fts, rank) VALUES ('merge', ?)",
                            (MERGE_PAGES,),
                        ),
                    )
                # PASSIVE never waits for readers or writers: what it can't copy now, the
                # next round will.
                await _step(conn, "WAL checkpoint", conn.execute("PRAGMA wal_checkpoint(PASSIVE)"))
        finally:
            # A clean stop: status stops listing this process at once, not 15 s later.
            async with self._write_lock:
                await _step(conn, "heartbeat", heartbeat.leave(conn))
            await conn.close()

    async def index_pending(self) -> int:
        """Make every stored chat turn searchable now (the background does it twice a
        second); how many turns were indexed."""
        async with self._write_lock:
            return await index_pending(self.conn)

    async def _connect(self) -> aiosqlite.Connection:
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:  # a directory, no permission, ...
            raise StorageError(f"TERTULIA_DB: cannot open {self.path}: {exc}") from None
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        except BaseException:
            await conn.close()  # its worker thread would otherwise outlive the process
            raise
        return conn

    async def _enable_wal(self, conn: aiosqlite.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite may answer BUSY
        # at once rather than wait when another process is opening the same new file.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_message(match=".*locked.*"),
            wait=wait_random_exponential(multiplier=0.01, max=0.5),
            stop=stop_after_delay(self._busy_timeout_ms / 1000),
            reraise=True,
        ):
            with attempt:
                await conn.execute("PRAGMA journal_mode = WAL")

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A multi-statement write: one transaction that holds the file's write lock."""
        conn = self.conn
        async with self._write_lock:
            # IMMEDIATE takes the file's write lock first: two adapter processes share it.
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        # execute_fetchall runs and finishes the statement in one hop to the worker thread:
        # a half-read cursor would hold a stale read snapshot, and another task's
        # BEGIN IMMEDIATE on this connection would then fail at once with SQLITE_BUSY.
        return list(await self.conn.execute_fetchall(sql, params))

    async def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """A read on the reader connection, which does not queue behind this process's writes.

        It sees every committed write and never one still in progress.
        """
        reader = self._reader or self.conn
        return list(await reader.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _statement(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one write statement as its own transaction, in one hop to the worker thread.

        Single statements need no BEGIN IMMEDIATE: a fresh autocommit write waits on the
        busy timeout like one. Holding the process's write lock for one hop only keeps a
        burst of chats from queueing behind each other's round trips.
        """
        async with self._write_lock:
            return await self._all(sql, params)


async def _step(conn: aiosqlite.Connection, what: str, work: Awaitable[object]) -> None:
    try:
        await work
    except sqlite3.Error as exc:
        log.warning("%s failed: %s", what, exc)


INDEX_BATCH = 5000  # turns indexed in one transaction, at most


async def index_pending(conn: aiosqlite.Connection) -> int:
    """Index the chat turns stored since the last batch, in one transaction.

    IMMEDIATE: both adapter processes index, and the second must see the first one's
    mark. Turns are indexed whatever their outcome (settle() may still change it);
    recall reads only the ok ones. The connection must have recall_terms registered.
    """
    await conn.execute("BEGIN IMMEDIATE")
    try:
        count = await index_batch(conn)
        await conn.execute("COMMIT")
        return count
    except BaseException:
        # A cancel that lands in COMMIT may leave no transaction to roll back; the
        # ROLLBACK's error must not replace the cancellation (close() would then wait).
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
        raise


async def index_batch(conn: aiosqlite.Connection) -> int:
    """index_pending() inside the caller's write transaction."""
    ((through,),) = await conn.execute_fetchall("SELECT through FROM recall_indexed WHERE id = 1")
    ((last,),) = await conn.execute_fetchall(
        "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)",
        (through, INDEX_BATCH),
    )
    count = 0
    if last is not None:
        cursor = await conn.execute(
            "INSERT INTO recall_fts (rowid, terms, conversation_id, chat_id)"
            " SELECT id, recall_terms(user_id, text), conversation_id, chat_id FROM messages"
            " WHERE id > ? AND id <= ? AND kind = 'chat'",
            (through, last),
        )
        count = cursor.rowcount
        await cursor.close()
        await conn.execute("UPDATE recall_indexed SET through = ? WHERE id = 1", (last,))
    return max(count, 0)
