"""Per-user conversation memory on SQLite: users, conversations and messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from tenacity import (
    AsyncRetrying,
    retry_if_exception_message,
    stop_after_delay,
    wait_random_exponential,
)

from storage.migrations import migrate

log = logging.getLogger(__name__)

# Statuses a message row can have. Only 'ok' rows are ever fed back to a model.
OK, PENDING, FAILED, BLOCKED, INTERRUPTED, REJECTED, COMMAND = (
    "ok",
    "pending",
    "failed",
    "blocked",
    "interrupted",
    "rejected",
    "command",
)

MMAP_BYTES = 256 * 1024 * 1024
CACHE_KIB = 32 * 1024

# The context window: newest usable turns of one conversation, read through messages_window.
WINDOW_SQL = (
    "SELECT role, text, tokens FROM messages"
    " WHERE user_id = ? AND conversation_id = ? AND status = 'ok'"
    " ORDER BY id DESC LIMIT ?"
)


class StorageError(Exception):
    """The database file cannot be opened or migrated; the message names the setting."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A person on one platform, with their own choices."""

    id: int
    platform: str
    platform_user_id: str
    lang: str | None
    persona: str | None


@dataclass(frozen=True, slots=True)
class Ingested:
    """Where an incoming message was stored."""

    user: UserRecord
    conversation_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One stored turn as the context builder sees it."""

    role: str
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message, with its status, as history shows it."""

    id: int
    role: str
    text: str
    status: str
    conversation_id: int
    created_at: float


class SqliteMemory:
    """One long-lived aiosqlite connection; every user-scoped query takes the user's id."""

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 10_000, checkpoint_every: float = 0.5
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._checkpoint_every = checkpoint_every
        self._checkpointer: asyncio.Task[None] | None = None
        self._conn: aiosqlite.Connection | None = None
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
            # A conversation's turns are spread over many pages of a big file: read them
            # through memory mapping and a larger page cache instead of a syscall per page.
            await conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            await conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # Checkpoints copy the WAL back into the file: a few ms of random writes. Left
            # to autocheckpoint they land inside whichever reply commits the 1000th page;
            # a background task on its own connection does them instead (_checkpoints).
            await conn.execute("PRAGMA wal_autocheckpoint = 0")
            await conn.execute("PRAGMA foreign_keys = ON")
            await migrate(conn)
        except BaseException as exc:
            # aiosqlite's worker is not a daemon thread: an unclosed connection would keep
            # the process alive after a failed start-up.
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"TERTULIA_DB: cannot use {self.path}: {exc}") from None
            raise
        self._conn = conn
        self._checkpointer = asyncio.create_task(self._checkpoints(), name="sqlite-checkpoint")

    async def _checkpoints(self) -> None:
        """Checkpoint the WAL twice a second on a second connection, off the reply path.

        Often enough that the WAL (which readers search) stays small under full load.
        """
        try:
            conn = await self._connect()
        except StorageError as exc:
            log.warning("no WAL checkpoints: %s", exc)
            return
        try:
            while True:
                await asyncio.sleep(self._checkpoint_every)
                try:
                    # PASSIVE never waits for readers or writers: what it can't copy now,
                    # the next round will.
                    await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            await conn.close()

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

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> SqliteMemory:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("SqliteMemory is not open")
        return self._conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
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

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        # execute_fetchall runs and finishes the statement in one hop to the worker thread:
        # a half-read cursor would hold a stale read snapshot, and another task's
        # BEGIN IMMEDIATE on this connection would then fail at once with SQLITE_BUSY.
        return list(await self.conn.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
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

    async def ingest(
        self,
        *,
        platform: str,
        platform_user_id: str,
        display_name: str,
        chat_id: str,
        platform_message_id: str | None,
        text: str,
        status: str,
        tokens: int = 0,
        images: int = 0,
    ) -> Ingested | None:
        """Store an incoming user message; None when this platform message is already stored."""
        now = time.time()
        (row,) = await self._statement(
            "INSERT INTO users (platform, platform_user_id, display_name, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (platform, platform_user_id)"
            " DO UPDATE SET display_name = excluded.display_name"
            " RETURNING id, lang, persona",
            (platform, platform_user_id, display_name, now),
        )
        user = UserRecord(row[0], platform, platform_user_id, row[1], row[2])
        # The partial unique index allows one active conversation per user and chat:
        # this upsert returns it, creating it on the first message.
        (conv,) = await self._statement(
            "INSERT INTO conversations (user_id, chat_id, started_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, chat_id) WHERE active = 1 DO UPDATE SET active = 1"
            " RETURNING id",
            (user.id, chat_id, now),
        )
        stored = await self._statement(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, status,"
            " tokens, images, created_at, platform_message_id)"
            " VALUES (?, ?, ?, 'user', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, chat_id, platform_message_id)"
            " WHERE platform_message_id IS NOT NULL DO NOTHING RETURNING id",
            (user.id, conv[0], chat_id, text, status, tokens, images, now, platform_message_id),
        )
        if not stored:
            return None
        return Ingested(user, conv[0], stored[0][0])

    async def window(
        self, user_id: int, conversation_id: int, *, max_turns: int = 200
    ) -> list[StoredTurn]:
        """The newest usable turns of one conversation, newest first (an indexed read)."""
        rows = await self._all(WINDOW_SQL, (user_id, conversation_id, max_turns))
        return [StoredTurn(r[0], r[1], r[2]) for r in rows]

    async def complete(
        self,
        user_id: int,
        ingested: Ingested,
        *,
        reply: str,
        status: str,
        tokens: int,
        first_token_ms: int | None,
        latency_ms: int,
    ) -> None:
        """Record the model's turn; a trigger settles the user's turn to the same status."""
        await self._statement(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, status,"
            " tokens, created_at, first_token_ms, latency_ms, reply_to)"
            " SELECT user_id, conversation_id, chat_id, 'assistant', ?, ?, ?, ?, ?, ?, id"
            " FROM messages WHERE id = ? AND user_id = ?",
            (
                reply,
                status,
                tokens,
                time.time(),
                first_token_ms,
                latency_ms,
                ingested.message_id,
                user_id,
            ),
        )

    async def new_conversation(self, user_id: int, chat_id: str) -> int:
        """Close the active conversation in this chat (it is kept) and open a new one."""
        async with self._write() as conn:
            await conn.execute(
                "UPDATE conversations SET active = 0"
                " WHERE user_id = ? AND chat_id = ? AND active = 1",
                (user_id, chat_id),
            )
            cur = await conn.execute(
                "INSERT INTO conversations (user_id, chat_id, started_at) VALUES (?, ?, ?)",
                (user_id, chat_id, time.time()),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def set_lang(self, user_id: int, lang: str | None) -> None:
        await self._statement("UPDATE users SET lang = ? WHERE id = ?", (lang, user_id))

    async def set_persona(self, user_id: int, persona: str) -> None:
        await self._statement("UPDATE users SET persona = ? WHERE id = ?", (persona, user_id))

    async def forget(self, user_id: int) -> int:
        """Erase the user, their conversations and messages; return how many messages went."""
        async with self._write() as conn:
            row = await self._one("SELECT count(*) FROM messages WHERE user_id = ?", (user_id,))
            # ON DELETE CASCADE removes conversations and messages with the user row.
            await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        return int(row[0])

    async def find_user(self, platform: str, platform_user_id: str) -> UserRecord | None:
        row = await self._one(
            "SELECT id, lang, persona FROM users WHERE platform = ? AND platform_user_id = ?",
            (platform, platform_user_id),
        )
        if row is None:
            return None
        return UserRecord(row[0], platform, platform_user_id, row[1], row[2])

    async def history(
        self, user_id: int, chat_id: str | None = None, *, limit: int = 100
    ) -> list[StoredMessage]:
        """This user's messages, oldest first (optionally in one chat only)."""
        sql = (
            "SELECT id, role, text, status, conversation_id, created_at FROM messages"
            " WHERE user_id = ?"
        )
        params: tuple[Any, ...] = (user_id,)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params += (chat_id,)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = await self._all(sql, (*params, limit))
        return [StoredMessage(*r) for r in reversed(rows)]

    async def stats(self) -> dict[str, int]:
        """Counts across all users (admin only)."""
        row = await self._one(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM conversations),"
            " (SELECT count(*) FROM messages)",
            (),
        )
        return {"users": row[0], "conversations": row[1], "messages": row[2]}
