"""Ordered, named schema steps, each applied once and recorded in `schema_migrations`."""

from __future__ import annotations

import logging
import sqlite3
import time

import aiosqlite

from storage.sqlite.migrations_early import EARLY_STEPS

log = logging.getLogger(__name__)

# Append only: a step that has shipped is never edited, a change is a new step.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    *EARLY_STEPS,  # 001 to 010
    (
        "011_dashboard_indexes",
        """
        -- The dashboard's charts read a window of days: without this every chart scanned
        -- the whole table (about 0.2 s each at a million messages). It covers every column
        -- they read, so a window is one contiguous range of a small index (about 35 MB a
        -- million messages), not table pages full of text. New rows land at its end.
        CREATE INDEX messages_dashboard ON messages(created_at, user_id, role, outcome,
            tokens, latency_ms, first_token_ms, rating);
        """,
    ),
    (
        "012_process_heartbeats",
        """
        -- Every process with the store open says so every few seconds from its background
        -- connection: `tertulia status` lists those seen lately, `tertulia restore` names
        -- them. A process that stops cleanly removes its own row.
        CREATE TABLE processes (
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            platform TEXT NOT NULL,
            started_at REAL NOT NULL,
            seen_at REAL NOT NULL,
            PRIMARY KEY (host, pid)
        );
        """,
    ),
    (
        "013_access_and_limits",
        """
        -- Keyed by the platform's ids, not users.id: a block, a notice or a day's use must
        -- outlast /forget (erasing yourself must not lift a block or refill a budget), and
        -- someone blocked before they ever wrote has no users row.
        CREATE TABLE blocked (
            platform TEXT NOT NULL,
            platform_user_id TEXT NOT NULL,
            blocked_by TEXT NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (platform, platform_user_id)
        ) WITHOUT ROWID;
        -- When each identity was last told it is refused ('access'), over the rate
        -- ('rate') or over the day's tokens ('budget'): a notice at most so often.
        CREATE TABLE notices (
            platform TEXT NOT NULL,
            platform_user_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            told_at REAL NOT NULL,
            PRIMARY KEY (platform, platform_user_id, reason)
        ) WITHOUT ROWID;
        -- Tokens and answers per identity and UTC day, shared by every adapter process.
        CREATE TABLE usage (
            platform TEXT NOT NULL,
            platform_user_id TEXT NOT NULL,
            day TEXT NOT NULL,
            tokens INTEGER NOT NULL DEFAULT 0,
            messages INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (platform, platform_user_id, day)
        ) WITHOUT ROWID;
        -- Counted in the statement that stores an answer (its tokens and its question's),
        -- so no reply costs an extra write and no crash counts one half.
        CREATE TRIGGER messages_usage AFTER INSERT ON messages
            WHEN NEW.role = 'assistant'
        BEGIN
            INSERT INTO usage (platform, platform_user_id, day, tokens, messages)
                SELECT u.platform, u.platform_user_id, date(NEW.created_at, 'unixepoch'),
                    NEW.tokens + coalesce(
                        (SELECT q.tokens FROM messages q WHERE q.id = NEW.reply_to), 0), 1
                FROM users u WHERE u.id = NEW.user_id
            ON CONFLICT (platform, platform_user_id, day) DO UPDATE SET
                tokens = tokens + excluded.tokens, messages = messages + 1;
        END;
        -- The rate limit reads a person's newest questions to the model: `burst` entries
        -- of this small index, however many messages they have.
        CREATE INDEX messages_asked ON messages(user_id, id, created_at)
            WHERE role = 'user' AND kind = 'chat';
        """,
    ),
    (
        "014_log_salt",
        """
        -- Random keys made once per database. `log_salt` keys the HMAC that turns a platform
        -- id into the pseudonym of the per-reply log line: Telegram ids are small integers,
        -- and a plain hash of one is undone by hashing them all. Kept here, not per process,
        -- so a person has one pseudonym in every process, after restarts and restores.
        CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        INSERT INTO secrets (name, value) VALUES ('log_salt', randomblob(32));
        """,
    ),
    (
        "015_pending_chat_turns",
        """
        -- Chat turns still waiting for their answer: a handful at any time (command turns
        -- stay pending for good, so they are left out). Crash recovery reads them at every
        -- start and every minute without scanning the messages.
        CREATE INDEX messages_pending ON messages(created_at)
            WHERE outcome = 'pending' AND role = 'user' AND kind = 'chat';
        """,
    ),
    (
        "016_embedding_claim",
        """
        -- Which process embeds for an embedder, until when: the adapters sharing the file
        -- take turns instead of each paying to embed the same turns (bot/indexing.py).
        ALTER TABLE embedded ADD COLUMN holder TEXT;
        ALTER TABLE embedded ADD COLUMN held_until REAL;
        """,
    ),
)


async def migrate(conn: aiosqlite.Connection) -> list[str]:
    """Apply every step not yet recorded, each in its own IMMEDIATE transaction.

    Runs with foreign keys off, as SQLite's procedure for rebuilding a table requires
    (the pragma is a no-op inside a transaction); each step must leave every reference
    intact before it commits. Foreign keys are on again when it returns.
    """
    await conn.execute("PRAGMA foreign_keys = OFF")
    try:
        return await _apply(conn)
    finally:
        await conn.execute("PRAGMA foreign_keys = ON")


async def _apply(conn: aiosqlite.Connection) -> list[str]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        # IMMEDIATE takes the write lock first: both adapter processes may start at once,
        # and the second must see the first one's record instead of applying the step again.
        await conn.execute("BEGIN IMMEDIATE")
        try:
            done = await conn.execute_fetchall(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (name,)
            )
            if not done:
                for statement in _statements(sql):
                    await conn.execute(statement)
                broken = await conn.execute_fetchall("PRAGMA foreign_key_check")
                if broken:
                    raise sqlite3.IntegrityError(f"{name} breaks references: {list(broken)[:3]}")
                await conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, time.time()),
                )
                applied.append(name)
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return applied


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT our transaction first; run statement by statement instead.
    # complete_statement() keeps a trigger's body, with its inner semicolons, in one piece.
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements: list[str] = []
    pending = ""
    for part in "\n".join(lines).split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
