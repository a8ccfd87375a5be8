"""The fake Telegram Bot API's records and checks: messages, uploads, failures, limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TEXT_LIMIT = 4096  # UTF-16 code units, as Telegram counts them
UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload in one file
ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)


NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def check_keyboard(markup: Any) -> dict[str, Any] | None:
    """An inline keyboard as the Bot API checks it: rows of buttons with 1-64 bytes of data."""
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if not isinstance(button.get("text"), str) or not button["text"]:
            raise ApiError(
                400,
                'Bad Request: can\'t parse inline keyboard button: Field "text" '
                "must be of type String",
            )
        if not set(button) & {"callback_data", "url", "switch_inline_query", "pay"}:
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: Text buttons "
                "are unallowed in the inline keyboard",
            )
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return dict(markup)


def utf16_len(text: str) -> int:
    """Length of `text` as Telegram measures it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


DROP = 0  # a Failure "code": the connection is cut instead of answered


class ApiError(Exception):
    """An error the fake answers with `ok: false`."""

    def __init__(
        self,
        code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to: int | None = None,
        page: str | None = None,
    ) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after
        self.migrate_to = migrate_to
        self.page = page  # an HTML body instead of the JSON error


@dataclass(slots=True)
class BotMessage:
    """A message the bot sent, with its current text and every version it had."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    thread_id: int | None = None
    reply_to: int | None = None
    reply_markup: dict[str, Any] | None = None  # its inline keyboard, if it has one
    history: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # time.monotonic() of each version


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart call, as the client sent it."""

    filename: str
    data: bytes
    content_type: str


@dataclass(slots=True)
class SentDocument:
    """A file the bot sent with sendDocument."""

    chat_id: int
    message_id: int
    file_name: str
    data: bytes
    mime_type: str
    thread_id: int | None = None
    reply_to: int | None = None


@dataclass(slots=True)
class Failure:
    """A scripted error for the next calls of `method` whose params match.

    It ends after `times` calls, or once `time.monotonic()` passes `until` when that is set.
    `page` is answered as an HTML body instead of the Bot API's JSON (what a proxy in front
    of Telegram sends during an outage).
    """

    method: str
    code: int
    description: str
    retry_after: int | None
    match: Callable[[dict[str, Any]], bool] | None
    times: int
    migrate_to: int | None = None
    until: float | None = None
    page: str | None = None


def check_markup(text: str, parse_mode: str) -> None:
    # Enough of Telegram's parser to catch hand-made escaping that went wrong.
    if parse_mode.lower() == "html":
        return
    bare = re.sub(r"\\.", "", text)
    for mark in ("*", "_", "`", "~"):
        if bare.count(mark) % 2:
            raise ApiError(400, f"Bad Request: can't parse entities: unclosed {mark}")
    if bare.count("[") != bare.count("]"):
        raise ApiError(400, "Bad Request: can't parse entities: unclosed [")
    if parse_mode == "MarkdownV2":
        for char in ".!-=+#{}|>()":
            if char in bare:
                raise ApiError(
                    400,
                    f"Bad Request: can't parse entities: Character '{char}' "
                    "is reserved and must be escaped with the preceding '\\'",
                )
