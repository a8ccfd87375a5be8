"""The SQLite store: one implementation of bot.ports.MemoryStore on a local file."""

from __future__ import annotations

from storage.sqlite.access import AccessQueries
from storage.sqlite.export import ExportQueries
from storage.sqlite.feedback import FeedbackQueries
from storage.sqlite.memory import MemoryQueries
from storage.sqlite.recall import RecallQueries
from storage.sqlite.recovery import RecoveryQueries
from storage.sqlite.reports import ReportQueries, StoredMessage
from storage.sqlite.salts import SaltQueries
from storage.sqlite.turns import TurnQueries
from storage.sqlite.users import UserQueries

__all__ = ["SqliteStore", "StoredMessage"]


class SqliteStore(
    TurnQueries,
    RecallQueries,
    MemoryQueries,
    UserQueries,
    ExportQueries,
    ReportQueries,
    FeedbackQueries,
    AccessQueries,
    RecoveryQueries,
    SaltQueries,
):
    """Per-person memory in one SQLite file shared by every platform process.

    `SqliteStore(path, *, busy_timeout_ms=10_000, checkpoint_every=0.5)`; open it once
    (`async with store:`). The queries live by responsibility in turns, recall, memory
    (facts, summaries), users (choices, links, erasure), export, reports and feedback
    (ratings, regenerated answers, consent); the
    connection and its helpers in connection.
    """

    async def forget(self, user_id: int) -> int:
        count = await super().forget(user_id)
        self._drop_cached_vectors()  # no erased person's vector stays in this process
        return count
