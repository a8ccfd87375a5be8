"""The first schema steps, 001 to 010: shipped, so frozen; migrations.py applies them."""

from __future__ import annotations

# Never edited: a database that applied a step is not told it changed. A change is a new
# step, appended in migrations.py.
EARLY_STEPS: tuple[tuple[str, str], ...] = (
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
    (
        "002_kind_and_outcome",
        """
        -- `status` mixed what a turn was with how it ended: split it in two. ADD COLUMN
        -- needs a default for NOT NULL; every row gets its real value just below.
        ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat'
            CHECK (kind IN ('chat', 'command', 'rejected'));
        ALTER TABLE messages ADD COLUMN outcome TEXT NOT NULL DEFAULT 'pending'
            CHECK (outcome IN ('pending', 'ok', 'failed', 'blocked', 'interrupted',
                               'undelivered', 'superseded'));
        -- A command or a refused message was answered on the spot: it ended ok. A status
        -- no release ever wrote becomes 'failed' rather than abort the upgrade: such a
        -- row must not be fed back as context.
        UPDATE messages SET
            kind = CASE status WHEN 'command' THEN 'command'
                               WHEN 'rejected' THEN 'rejected' ELSE 'chat' END,
            outcome = CASE
                WHEN status IN ('command', 'rejected') THEN 'ok'
                WHEN status IN ('pending', 'ok', 'failed', 'blocked', 'interrupted',
                                'undelivered', 'superseded') THEN status
                ELSE 'failed' END;
        -- DROP COLUMN refuses a column that a trigger or an index still names.
        DROP TRIGGER messages_settle;
        DROP INDEX messages_window;
        ALTER TABLE messages DROP COLUMN status;
        -- Recording the reply settles the user's turn in the same statement: a crash can
        -- never leave an answered turn pending, or a failed one usable as context.
        CREATE TRIGGER messages_settle AFTER INSERT ON messages
            WHEN NEW.reply_to IS NOT NULL
        BEGIN
            UPDATE messages SET outcome = NEW.outcome
                WHERE id = NEW.reply_to AND user_id = NEW.user_id;
        END;
        -- The context window's covering index, as in 001: one contiguous range per
        -- conversation, holding only the turns a model may see again.
        CREATE INDEX messages_window
            ON messages(user_id, conversation_id, id, role, tokens, text)
            WHERE kind = 'chat' AND outcome = 'ok';
        """,
    ),
    (
        "003_cascade_indexes",
        """
        -- Erasing a person cascades to each of their messages and conversations, and
        -- SQLite then looks up every row that points at each one. Unindexed, that was a
        -- full scan of messages per deleted row: 30 s for one /forget in a 400k-message
        -- file, all of it holding the write lock that every other chat waits on.
        CREATE INDEX messages_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;
        CREATE INDEX messages_conversation ON messages(conversation_id);
        """,
    ),
    (
        "004_user_ids_never_reused",
        """
        -- Without AUTOINCREMENT SQLite hands out max(id) + 1, so erasing the newest person
        -- gave their id to the next newcomer, and a reply still being written for the
        -- erased person landed in the newcomer's conversation. Every query is scoped by
        -- user id, so ids that are never reused are enough to keep people apart.
        -- The table is rebuilt the way SQLite documents (migrate() runs with foreign keys
        -- off, so dropping the old table cascades nowhere); it holds one row per person.
        CREATE TABLE users_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            platform_user_id TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            lang TEXT,
            persona TEXT,
            created_at REAL NOT NULL,
            UNIQUE (platform, platform_user_id)
        );
        INSERT INTO users_new (id, platform, platform_user_id, display_name, lang, persona,
                               created_at)
            SELECT id, platform, platform_user_id, display_name, lang, persona, created_at
            FROM users ORDER BY id;
        DROP TABLE users;
        ALTER TABLE users_new RENAME TO users;
        """,
    ),
    (
        "005_recall_full_text",
        """
        -- Answered chat turns, searchable by their words. Each word is stored as
        -- "u<user id>x<word>" (storage.sqlite.terms.recall_terms), so a search reads only
        -- that person's entries and BM25 weighs a word by their own messages. unicode61
        -- with remove_diacritics 2 folds case and accents ("cancion" finds "canción").
        -- The store writes the rows itself (a process of an older release, sharing the
        -- file during an upgrade, keeps working: it just indexes nothing); the trigger
        -- only deletes. This backfill runs where recall_terms is registered.
        CREATE VIRTUAL TABLE recall_fts USING fts5(
            terms, conversation_id UNINDEXED, chat_id UNINDEXED,
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER recall_fts_delete AFTER DELETE ON messages BEGIN
            DELETE FROM recall_fts WHERE rowid = OLD.id;
        END;
        INSERT INTO recall_fts (rowid, terms, conversation_id, chat_id)
            SELECT id, recall_terms(user_id, text), conversation_id, chat_id FROM messages
            WHERE kind = 'chat' AND outcome = 'ok';
        """,
    ),
    (
        "006_lasting_memory",
        """
        -- One person, several platforms: an identity linked with /link points at the
        -- identity whose choices (language, persona) the person shares; NULL is itself.
        -- Erasing that identity sets the pointer back to NULL: the other side stands alone.
        ALTER TABLE users ADD COLUMN person_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
        CREATE INDEX users_person ON users(person_id) WHERE person_id IS NOT NULL;
        -- The newest of this identity's messages already read for facts.
        ALTER TABLE users ADD COLUMN facts_through INTEGER NOT NULL DEFAULT 0;
        -- What a person said about themselves, learnt by the model or told with /remember.
        -- A fact that stops holding keeps the date it stopped (valid_until), and the fact
        -- that replaced it, if any. chat_id is where it was said: a group sees only its own.
        CREATE TABLE facts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            chat_id TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('told', 'learnt')),
            created_at REAL NOT NULL,
            valid_until REAL,
            replaced_by INTEGER REFERENCES facts(id) ON DELETE SET NULL
        );
        CREATE INDEX facts_user ON facts(user_id, valid_until);
        CREATE INDEX facts_replaced ON facts(replaced_by) WHERE replaced_by IS NOT NULL;
        -- A conversation's older part, folded by the model into a summary: it covers the
        -- turns up to summary_through (a message id).
        ALTER TABLE conversations ADD COLUMN summary TEXT;
        ALTER TABLE conversations ADD COLUMN summary_through INTEGER NOT NULL DEFAULT 0;
        -- /link codes are kept only as hashes, single use, with an expiry; every redeeming
        -- attempt is counted so a code cannot be guessed by trying.
        CREATE TABLE link_codes (
            code_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at REAL NOT NULL
        );
        CREATE INDEX link_codes_user ON link_codes(user_id);
        CREATE TABLE link_attempts (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            at REAL NOT NULL
        );
        CREATE INDEX link_attempts_user ON link_attempts(user_id, at);
        """,
    ),
    (
        "007_vectors",
        """
        -- Chat turns as vectors, for recall by meaning. Written in the background, in
        -- batches, per embedder (vectors of two embedders never mix); found per person
        -- by an exact scan of that person's vectors (storage.sqlite.vectors).
        CREATE TABLE vectors (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            embedder TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            conversation_id INTEGER NOT NULL,
            chat_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (message_id, embedder)
        ) WITHOUT ROWID;
        CREATE INDEX vectors_user ON vectors(user_id, embedder, message_id);
        -- How far each embedder has got through messages.
        CREATE TABLE embedded (
            embedder TEXT PRIMARY KEY,
            through INTEGER NOT NULL
        );
        -- How many times a person was erased: a process drops the vectors it keeps in
        -- memory when this changes (the erasure may have happened in the other process).
        CREATE TABLE erasures (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL
        );
        """,
    ),
    (
        "008_recall_vocabulary",
        """
        -- How many of a person's turns hold each of their words (their terms are their
        -- own, see 005): recall leaves out the words too common to tell turns apart.
        CREATE VIRTUAL TABLE recall_vocab USING fts5vocab(recall_fts, 'row');
        -- FTS5 merges its segments inside whichever insert fills a level: 20 ms added to
        -- that reply at a million messages (p99 20 ms against 6 ms without). The store's
        -- background connection merges a little at a time instead (connection.py).
        INSERT INTO recall_fts (recall_fts, rank) VALUES ('automerge', 0);
        """,
    ),
    (
        "009_recall_indexed_in_batches",
        """
        -- Turns are indexed for recall in batches by the store's background connection
        -- (one FTS5 segment a batch, not one a message); this is how far it got. Every
        -- chat turn stored so far was indexed as it was written.
        CREATE TABLE recall_indexed (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            through INTEGER NOT NULL
        );
        INSERT INTO recall_indexed (id, through)
            SELECT 1, coalesce(max(id), 0) FROM messages;
        """,
    ),
    (
        "010_feedback_and_consent",
        """
        -- A person's rating of a model's reply (1 = thumbs up, -1 = down), changeable, with
        -- an optional short reason for a thumbs down. On the reply's own row: erasing the
        -- person erases their ratings with it.
        ALTER TABLE messages ADD COLUMN rating INTEGER CHECK (rating IN (-1, 1));
        ALTER TABLE messages ADD COLUMN rating_reason TEXT;
        ALTER TABLE messages ADD COLUMN rated_at REAL;
        -- The persona a model's answer was written as: ↻ answers again as the same one,
        -- and a tuning dataset gives each example the system instruction it really had.
        ALTER TABLE messages ADD COLUMN persona TEXT;
        -- Consent to use the person's conversations for tuning (/consent): off until they
        -- say so. Kept on the person's root row, like lang and persona, so linked
        -- identities share it.
        ALTER TABLE users ADD COLUMN tuning_consent INTEGER NOT NULL DEFAULT 0
            CHECK (tuning_consent IN (0, 1));
        ALTER TABLE users ADD COLUMN consent_at REAL;
        """,
    ),
)
