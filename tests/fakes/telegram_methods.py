"""The fake Telegram Bot API's state and methods (getUpdates, sendMessage, ...).

Its records and checks are in telegram_records.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram_records import (
    DROP,
    ENTITY_TYPES,
    NOT_MODIFIED,
    TEXT_LIMIT,
    UPLOAD_LIMIT,
    ApiError,
    BotMessage,
    Failure,
    SentDocument,
    Upload,
    check_keyboard,
    check_markup,
    utf16_len,
)

# The fake's other modules import the records from here, as before the split.
__all__ = [
    "DROP",
    "NOT_MODIFIED",
    "TEXT_LIMIT",
    "ApiError",
    "BotMessage",
    "Failure",
    "SentDocument",
    "TelegramState",
    "Upload",
    "check_keyboard",
    "utf16_len",
]


class TelegramState:
    """What the fake knows (updates, messages, files, menus) and the Bot API methods on it.

    `_m_<method>` answers the Bot API method of that name with the call's parameters.
    """

    def __init__(self, token: str, *, username: str, bot_id: int, validate: bool) -> None:
        self.token, self.username, self.bot_id = token, username, bot_id
        self.validate = validate  # benches turn off checks they don't need
        self.record_calls = True
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[int, list[BotMessage]] = {}
        self.documents: dict[int, list[SentDocument]] = {}  # chat id -> files sent there
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.files: dict[str, tuple[str, bytes]] = {}
        self.unknown: list[str] = []
        self.errors: list[tuple[str, int, str]] = []  # (method, code, description) answered
        self.on_message: Callable[[BotMessage], None] | None = None  # benches time deliveries
        self._updates: list[dict[str, Any]] = []
        self._fetched = 0  # the newest update_id getUpdates has returned
        self._update_ids = itertools.count(1)
        self._msg_ids: dict[int, itertools.count[int]] = {}
        self._user_msgs: dict[tuple[int, int], dict[str, Any]] = {}
        self._chat_types: dict[int, str] = {}
        self._failures: list[Failure] = []
        self._holds: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Condition()

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (a fresh update_id is set), e.g. to redeliver a message."""
        update = {**update, "update_id": next(self._update_ids)}
        self._updates.append(update)
        self._notify()
        return update

    def bot_messages(self, chat_id: int) -> list[BotMessage]:
        return self.messages.get(chat_id, [])

    # -- Bot API -----------------------------------------------------------------

    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Tertulia",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self._me()

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        scope = p.get("scope") or {"type": "default"}
        key = (json.dumps(scope, sort_keys=True), p.get("language_code") or "")
        for cmd in p["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd["command"]) or not (
                1 <= len(cmd["description"]) <= 256
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[key] = p["commands"]
        return True

    def commands_for(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self.commands.get(key, [])

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = p
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        offset, timeout = int(p.get("offset") or 0), float(p.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: self._updates), timeout)
        batch = self._updates[: int(p.get("limit") or 100)]
        if batch:
            self._fetched = max(self._fetched, batch[-1]["update_id"])
        return batch

    def unfetched(self) -> int:
        """Updates queued that the bot has not fetched yet."""
        return sum(1 for u in self._updates if u["update_id"] > self._fetched)

    async def _m_sendChatAction(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_getFile(self, p: dict[str, Any]) -> Any:
        if p["file_id"] not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[p["file_id"]]
        return {
            "file_id": p["file_id"],
            "file_unique_id": p["file_id"] + "u",
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        text, entities = p.get("text", ""), p.get("entities") or []
        self._check_text(text, entities, p.get("parse_mode"))
        reply = p.get("reply_parameters") or {}
        msg = BotMessage(
            chat_id,
            self._next_msg_id(chat_id),
            text,
            entities,
            thread_id=p.get("message_thread_id"),
            reply_to=reply.get("message_id"),
            reply_markup=check_keyboard(p.get("reply_markup")),
        )
        msg.history.append((text, entities))
        msg.times.append(time.monotonic())
        self.messages.setdefault(chat_id, []).append(msg)
        if self.on_message:
            self.on_message(msg)
        return self._message_dict(chat_id, msg.message_id)

    async def _m_sendDocument(self, p: dict[str, Any]) -> Any:
        chat_id, upload = int(p["chat_id"]), p.get("document")
        if not isinstance(upload, Upload):  # a file_id or URL: the adapter only uploads
            raise ApiError(400, "Bad Request: wrong remote file identifier specified")
        if not upload.data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(upload.data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        reply = p.get("reply_parameters") or {}
        doc = SentDocument(
            chat_id,
            self._next_msg_id(chat_id),
            upload.filename,
            upload.data,
            upload.content_type,
            thread_id=p.get("message_thread_id"),
            reply_to=reply.get("message_id"),
        )
        self.documents.setdefault(chat_id, []).append(doc)
        ctype = self._chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        file_id = f"doc{chat_id}_{doc.message_id}"
        return {
            "message_id": doc.message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": ctype},
            "from": self._me(),
            "document": {
                "file_id": file_id,
                "file_unique_id": file_id + "u",
                "file_name": doc.file_name,
                "mime_type": doc.mime_type,
                "file_size": len(doc.data),
            },
        }

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        chat_id, message_id = int(p["chat_id"]), int(p["message_id"])
        text, entities = p.get("text", ""), p.get("entities") or []
        found = [m for m in self.bot_messages(chat_id) if m.message_id == message_id]
        if not found:
            raise ApiError(400, "Bad Request: message to edit not found")
        msg = found[0]
        self._check_text(text, entities, p.get("parse_mode"))
        # Like Telegram: an edit without reply_markup takes the keyboard away.
        markup = check_keyboard(p.get("reply_markup"))
        if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.text, msg.entities, msg.reply_markup = text, entities, markup
        msg.history.append((text, entities))
        msg.times.append(time.monotonic())
        if self.on_message:
            self.on_message(msg)
        return self._message_dict(chat_id, message_id)

    def _check_text(
        self, text: str, entities: list[dict[str, Any]], parse_mode: str | None = None
    ) -> None:
        if not self.validate:
            return
        if parse_mode:
            check_markup(text, parse_mode)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        size = utf16_len(text)
        if size > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        for ent in entities:
            off, length = ent.get("offset", -1), ent.get("length", 0)
            if ent.get("type") not in ENTITY_TYPES or off < 0 or length <= 0 or off + length > size:
                raise ApiError(400, f"Bad Request: can't parse entities: bad entity {ent}")

    # -- helpers -----------------------------------------------------------------

    def _next_msg_id(self, chat_id: int) -> int:
        return next(self._msg_ids.setdefault(chat_id, itertools.count(1)))

    def _message_dict(self, chat_id: int, message_id: int) -> dict[str, Any]:
        if (chat_id, message_id) in self._user_msgs:
            return self._user_msgs[(chat_id, message_id)]
        ctype = self._chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        for m in self.bot_messages(chat_id):
            if m.message_id == message_id:
                out: dict[str, Any] = {
                    "message_id": m.message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": ctype},
                    "from": self._me(),
                    "text": m.text,
                }
                if m.entities:
                    out["entities"] = m.entities
                if m.reply_markup:
                    out["reply_markup"] = m.reply_markup
                if m.thread_id is not None:
                    out["message_thread_id"] = m.thread_id
                    out["is_topic_message"] = True
                return out
        raise ApiError(400, "Bad Request: message not found")

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        # Handlers and push helpers are sync or mid-request: wake waiters from a task.
        asyncio.get_running_loop().create_task(notify())
