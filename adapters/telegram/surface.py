"""One Telegram chat (and forum topic) as a delivery surface, with Bot API errors translated."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    MessageEntity,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from adapters.delivery import (
    Body,
    ChatGone,
    Delivery,
    Feedback,
    PageGone,
    RateLimited,
    Rejected,
    Transient,
)
from adapters.telegram import convert
from adapters.telegram.render import render, utf16_len
from bot.types import Attachment

log = logging.getLogger(__name__)

LIMIT = 4096  # Telegram's message limit, in UTF-16 code units
# Pages are cut on the Markdown; rendering mostly removes markup but a heading icon or a
# rule can add a few units, so leave room. A page that still renders too long goes plain.
MARGIN = 96
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# 400s that mean the bot cannot write to this chat any more.
_CHAT_GONE = ("chat not found", "bot was kicked", "not enough rights", "have no rights")
_PAGE_GONE = ("message to edit not found", "message can't be edited")
T = TypeVar("T")


class TelegramSurface:
    """Sends, edits and "typing" for one reply; the message ids are its handles."""

    limit = LIMIT - MARGIN
    typing_every = 4.5  # Telegram shows "typing" for ~5 s per action

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        thread_id: int | None,
        reply_to: int | None,
        *,
        direct: bool = False,
    ) -> None:
        self.bot, self.chat_id, self.thread_id = bot, chat_id, thread_id
        self.direct = direct  # a private chat: only the person reads what is sent here
        self.reply = (
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        )

    def measure(self, text: str) -> int:
        return utf16_len(text)

    def render(self, page: str) -> Body:
        text, entities = render(page)
        return Body(text, entities)

    async def typing(self) -> None:
        await self._call(
            lambda chat_id: self.bot.send_chat_action(
                chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
            )
        )

    async def send(self, body: Body) -> int:
        sent = await self._call(
            lambda chat_id: self.bot.send_message(
                chat_id,
                body.text,
                entities=self._entities(body),
                message_thread_id=self.thread_id,
                reply_parameters=self.reply,
                link_preview_options=_NO_PREVIEW,
                reply_markup=keyboard(body.buttons),
            )
        )
        return sent.message_id

    async def edit(self, message: int, body: Body) -> None:
        try:
            await self._call(
                lambda chat_id: self.bot.edit_message_text(
                    body.text,
                    chat_id=chat_id,
                    message_id=message,
                    entities=self._entities(body),
                    link_preview_options=_NO_PREVIEW,
                    reply_markup=keyboard(body.buttons),
                )
            )
        except Rejected as exc:
            # The message already shows this text (e.g. a retried edit that had landed).
            if "not modified" not in str(exc).lower():
                raise

    async def attach(self, file: Attachment) -> None:
        if not self.direct:
            # A file holds one person's data; Telegram has no reply only they would see.
            raise Rejected("a file is only sent in a private chat")
        await self._call(
            lambda chat_id: self.bot.send_document(
                chat_id,
                InputFile(file.data, filename=file.name),
                message_thread_id=self.thread_id,
                reply_parameters=self.reply,
            )
        )

    async def finish(self, delivered: Delivery[int]) -> None:
        return None  # the buttons went with the last page's final text

    async def _call(self, make: Callable[[int], Awaitable[T]]) -> T:
        """`make(chat_id)` with errors translated; once more on the new id of a migrated group."""
        try:
            return await translated(make(self.chat_id))
        except Rejected as exc:
            if not isinstance(exc.__cause__, ChatMigrated):
                raise
            # The group became a supergroup, which has a new id for good.
            log.info("chat %s migrated to %s", self.chat_id, exc.__cause__.new_chat_id)
            self.chat_id = exc.__cause__.new_chat_id
        return await translated(make(self.chat_id))

    def _entities(self, body: Body) -> list[MessageEntity] | None:
        entities = [MessageEntity.de_json(dict(e), self.bot) for e in body.entities]
        return [e for e in entities if e is not None] or None


def keyboard(buttons: Feedback | None) -> InlineKeyboardMarkup | None:
    """👍 👎 ↻ under an answer, the rating already given marked with a tick."""
    if buttons is None:
        return None
    marks = {1: "up", -1: "down"}
    chosen = marks.get(buttons.rating or 0)
    shown = zip(convert.ACTIONS, ("👍", "👎", "↻"), strict=True)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    label + (" ✓" if action == chosen else ""),
                    callback_data=f"fb:{action}:{buttons.reply_id}",
                )
                for action, label in shown
                if action == "redo" or not buttons.redo_only
            ]
        ]
    )


async def translated(call: Awaitable[T]) -> T:
    """Await a Bot API call, raising delivery's errors instead of PTB's."""
    try:
        return await call
    except RetryAfter as exc:
        raise RateLimited(convert.seconds(exc.retry_after)) from exc
    except Forbidden as exc:  # blocked by the user, kicked from the group
        raise ChatGone(exc.message) from exc
    except BadRequest as exc:  # a subclass of NetworkError: catch it first
        message = exc.message.lower()
        if any(s in message for s in _CHAT_GONE):
            raise ChatGone(exc.message) from exc
        if any(s in message for s in _PAGE_GONE):
            raise PageGone(exc.message) from exc
        raise Rejected(exc.message) from exc
    except NetworkError as exc:  # timeouts, 5xx, a dropped connection
        if "entity too large" in exc.message.lower():
            # PTB raises a 413 (an upload over the limit) as a NetworkError: it never passes.
            raise Rejected(exc.message) from exc
        raise Transient(str(exc)) from exc
    except TelegramError as exc:  # ChatMigrated, InvalidToken, ...
        raise Rejected(exc.message) from exc
