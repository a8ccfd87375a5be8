"""Where a Telegram note about an interrupted answer goes: the chat (and topic) it was asked in."""

from __future__ import annotations

from telegram import Bot

from adapters.telegram.surface import TelegramSurface
from bot.types import Orphan


def surface(bot: Bot, orphan: Orphan) -> TelegramSurface:
    """The orphan's chat as a surface; in a group the note quotes the message it is about."""
    chat, _, topic = orphan.chat_id.partition(":topic")
    chat_id = int(chat)
    direct = chat_id > 0  # private chats have the person's (positive) id; groups are negative
    quoted = orphan.message_id if orphan.message_id and orphan.message_id.isdigit() else None
    reply_to = None if direct or quoted is None else int(quoted)
    return TelegramSurface(bot, chat_id, int(topic) if topic else None, reply_to, direct=direct)
