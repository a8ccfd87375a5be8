"""The SQLite memory: one aiosqlite connection per process, migrations and queries."""
