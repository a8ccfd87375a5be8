"""Ordered, named schema steps, each applied once and recorded in `schema_migrations`."""

from __future__ import annotations

import logging
import sqlite3
import time

import aiosqlite

log = logging.getLogger(__name__)

# Append only: a step that has shipped is never edited, a change is a new step.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "001_users_conversations_messages",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            platform_user_id TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            lang TEXT,
            persona TEXT,
            created_at REAL NOT NULL,
            UNIQUE (platform, platform_user_id)
        );
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            chat_id TEXT NOT NULL,
            started_at REAL NOT NULL,
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE UNIQUE INDEX conversations_active
            ON conversations(user_id, chat_id) WHERE active = 1;
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            chat_id TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            text TEXT NOT NULL,
            status TEXT NOT NULL,
            tokens INTEGER NOT NULL DEFAULT 0,
            images INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            first_token_ms INTEGER,
            latency_ms INTEGER,
            platform_message_id TEXT,
            -- For a model's turn: the user's turn it answers.
            reply_to INTEGER REFERENCES messages(id) ON DELETE CASCADE
        );
        -- Recording the reply settles the user's turn in the same statement: a crash can
        -- never leave an answered turn pending, or a failed one usable as context.
        CREATE TRIGGER messages_settle AFTER INSERT ON messages
            WHEN NEW.reply_to IS NOT NULL
        BEGIN
            UPDATE messages SET status = NEW.status
                WHERE id = NEW.reply_to AND user_id = NEW.user_id;
        END;
        -- The idempotency key: one stored row per platform message, whatever the redeliveries.
        CREATE UNIQUE INDEX messages_platform_id
            ON messages(user_id, chat_id, platform_message_id)
            WHERE platform_message_id IS NOT NULL;
        -- The context window reads only the newest usable turns of one conversation.
        -- It covers the columns the window needs, so one conversation's turns are read as
        -- one contiguous range instead of one table page per turn: the cost of building
        -- context stays flat however large the file grows.
        CREATE INDEX messages_window
            ON messages(user_id, conversation_id, id, role, tokens, text) WHERE status = 'ok';
        CREATE INDEX messages_user ON messages(user_id);
        CREATE INDEX conversations_user ON conversations(user_id);
        """,
    ),
)


async def migrate(conn: aiosqlite.Connection) -> list[str]:
    """Apply every step not yet recorded, each in its own IMMEDIATE transaction."""
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
