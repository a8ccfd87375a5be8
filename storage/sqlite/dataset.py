"""The tuning-dataset reader: consenting people's conversations, streamed from a read-only file."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Collection, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.ports import StorageError
from bot.types import Outcome, TrainingConversation, TrainingTurn, TurnKind

# Enum members by stored value: a dict lookup per row instead of an Enum call.
_KINDS = {k.value: k for k in TurnKind}
_OUTCOMES = {o.value: o for o in Outcome}

# Telegram's user ids have at least 5 digits and Discord's snowflakes 17 or more: shorter
# numbers in a text are far more often counts, years or prices than someone's id.
MIN_ID_DIGITS = 5

# Every identity in id order, its person (the root row: consent, persona and language are
# kept there and shared by linked identities), their conversations and messages in id
# order. Each loop reads an index in the order asked for (users by rowid, conversations_user,
# messages_conversation), so nothing is sorted and one conversation arrives at a time.
_SELECT = (
    "SELECT c.id, p.id, u.id, u.platform, c.chat_id, c.started_at, p.persona, p.lang,"
    " m.id, m.role, m.text, m.kind, m.outcome, m.created_at, m.reply_to, m.rating,"
    " m.rating_reason, m.images, m.persona"
    " FROM users u"
    " CROSS JOIN users p ON p.id = coalesce(u.person_id, u.id)"
    " CROSS JOIN conversations c ON c.user_id = u.id"
    " CROSS JOIN messages m ON m.conversation_id = c.id"
    # Consent is the person's own choice on their root row: no option can widen it.
    " WHERE p.tuning_consent = 1"
)
_ORDER = " ORDER BY u.id, c.id, m.id"


class DatasetReader:
    """Reads what the dataset export may use, on a read-only connection of its own.

    `with DatasetReader(path) as reader:`; nothing it does can write to the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> DatasetReader:
        if not self.path.is_file():
            raise StorageError(f"{self.path}: no such database")
        try:
            # mode=ro: SQLite itself refuses every write on this connection.
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open it read-only ({exc})") from None
        try:
            db.execute("SELECT tuning_consent, person_id FROM users LIMIT 0")
            db.execute("SELECT rating, rating_reason FROM messages LIMIT 0")
        except sqlite3.Error:
            db.close()
            raise StorageError(
                f"{self.path}: written by an older tertulia (no consent or ratings yet);"
                " start tertulia once to upgrade it"
            ) from None
        self._db = db
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("DatasetReader used outside `with`")
        return self._db

    def platform_ids(self) -> frozenset[str]:
        """Every stored person's numeric platform id (anyone's, consenting or not): a text
        that names one is redacted, whoever it belongs to."""
        rows = self.db.execute(
            "SELECT platform_user_id FROM users WHERE length(platform_user_id) >= ?"
            " AND platform_user_id NOT GLOB '*[^0-9]*'",
            (MIN_ID_DIGITS,),
        )
        return frozenset(r[0] for r in rows)

    def conversations(
        self,
        *,
        platform: str | None = None,
        persona: str | None = None,
        personas: Collection[str] = (),
        default_persona: str = "assistant",
        language: str | None = None,
        since: float | None = None,
    ) -> Iterator[TrainingConversation]:
        """Consenting people's conversations, one at a time, turns in order.

        Filtered here: `platform`; `persona` (a person's persona not in `personas` is
        `default_persona`, as the engine answers); `language` for people who chose one
        (the others are told apart by their words, later); `since` (Unix time): only the
        turns written then or later.
        """
        sql, params = _SELECT, list[Any]()
        if platform is not None:
            # `+` keeps the users scan in id order (the platform index would need a sort).
            sql += " AND +u.platform = ?"
            params.append(platform)
        if language is not None:
            sql += " AND (p.lang IS NULL OR p.lang = ?)"
            params.append(language)
        if since is not None:
            sql += " AND m.created_at >= ?"
            params.append(since)
        rows = self.db.execute(sql + _ORDER, params)
        known = frozenset(personas)
        for _, group in itertools.groupby(rows, key=lambda row: row[0]):
            for part in _parts(list(group)):
                # A persona the engine no longer has answered as the default one.
                name = part.persona if part.persona in known else default_persona
                if persona is None or name == persona:
                    yield part


def _parts(rows: list[tuple[Any, ...]]) -> Iterator[TrainingConversation]:
    """One conversation's rows (the same conversation columns, one message each), in one
    part per run of answers written as the same persona: each example gets the system
    instruction its answers really had."""
    conv, person, user, platform, chat, started, today, lang = rows[0][:8]
    # A user's turn belongs with the persona of its newest answer; one never answered
    # (or an answer from before personas were kept) with the part it falls in.
    answered = {r[14]: r[18] for r in rows if r[9] == "assistant" and r[18]}
    part: list[tuple[Any, ...]] = []
    current: str | None = None
    for row in rows:
        own = row[18] if row[9] == "assistant" else answered.get(row[8])
        if own and current and own != current and part:
            yield _conversation(rows[0], current, part)
            part = []
        current = own or current
        part.append(row)
    if part:
        yield _conversation(rows[0], current or today, part)


def _conversation(
    head: tuple[Any, ...], persona: str | None, rows: list[tuple[Any, ...]]
) -> TrainingConversation:
    conv, person, user, platform, chat, started, _, lang = head[:8]
    turns = tuple(
        TrainingTurn(
            id=r[8],
            role=r[9],
            text=r[10],
            kind=_KINDS[r[11]],
            outcome=_OUTCOMES[r[12]],
            created_at=r[13],
            reply_to=r[14],
            rating=r[15],
            reason=r[16],
            images=r[17],
        )
        for r in rows
    )
    return TrainingConversation(
        conv, person, user, platform, chat, started, persona, lang, turns=turns
    )
