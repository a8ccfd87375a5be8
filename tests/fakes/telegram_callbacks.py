"""The fake Bot API's inline keyboards: button presses as callback queries, and their answers."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.fakes.telegram_methods import NOT_MODIFIED, ApiError, TelegramState, check_keyboard

ANSWER_LIMIT = 200  # characters of an answerCallbackQuery notification


class CallbackMethods(TelegramState):
    """Presses pushed by tests (`press`) and the methods a bot answers them with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._query_ids = itertools.count(1)
        # Query id -> when it was pushed; answered ones move to `answered`.
        self.open_queries: dict[str, float] = {}
        self.answered: dict[str, dict[str, Any]] = {}  # query id -> the answer's parameters

    def press(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        language_code: str | None = "en",
        first_name: str = "Ana",
    ) -> str:
        """Queue a press of a button under the bot's message; return the query's id."""
        query_id = f"q{next(self._query_ids)}"
        sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            sender["language_code"] = language_code
        self.open_queries[query_id] = time.monotonic()
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": sender,
                    "message": self._message_dict(chat_id, message_id),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                }
            }
        )
        return query_id

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        query_id = str(p.get("callback_query_id"))
        if query_id not in self.open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(str(p.get("text") or "")) > ANSWER_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        pushed = self.open_queries.pop(query_id)
        self.answered[query_id] = {**p, "after": time.monotonic() - pushed}
        return True

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        chat_id, message_id = int(p["chat_id"]), int(p["message_id"])
        found = [m for m in self.bot_messages(chat_id) if m.message_id == message_id]
        if not found:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = check_keyboard(p.get("reply_markup"))
        if markup == found[0].reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        found[0].reply_markup = markup
        return self._message_dict(chat_id, message_id)


def labels(markup: dict[str, Any] | None) -> list[str]:
    """The buttons' labels of an inline keyboard, row after row."""
    rows = (markup or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


def data_of(markup: dict[str, Any] | None) -> list[str]:
    """The buttons' callback data, row after row."""
    rows = (markup or {}).get("inline_keyboard", [])
    return [button.get("callback_data", "") for row in rows for button in row]
