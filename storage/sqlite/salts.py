"""Random keys made once per database (migration 014), for pseudonyms in the logs."""

from __future__ import annotations

from storage.sqlite.connection import Database


class SaltQueries(Database):
    """Reads of the `secrets` table; nothing here is ever written after the migration."""

    async def log_salt(self) -> bytes:
        """The database's own random key for the per-reply log line's person pseudonym."""
        row = await self._one("SELECT value FROM secrets WHERE name = 'log_salt'")
        return bytes(row[0])
