"""Telegram decisions on plain values: who was addressed, media kinds, keys, menus, webhook."""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from bot.commands import Command
from bot.i18n import LANGS
from bot.types import MediaKind
from config.settings import Settings

PLATFORM = "telegram"
# Updates the bot asks for: messages, and presses of the buttons under its answers.
UPDATES = ("message", "callback_query")
# The feedback buttons' actions, in callback data "fb:<action>:<reply id>" (at most 64 bytes).
ACTIONS = ("up", "down", "redo")
# ASCII digits only, and no more than a SQLite rowid can hold.
_FEEDBACK = re.compile(r"fb:(up|down|redo):(\d{1,18})", re.ASCII)
# Checked in this order: an animation also carries a document, a venue a location.
MEDIA_KINDS = (
    "sticker",
    "voice",
    "video_note",
    "video",
    "animation",
    "audio",
    "venue",
    "location",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "document",
)
# An entity as (type, text it covers, id of the user a text_mention names).
Entity = tuple[str, str, int | None]


def admin_chats(admins: Iterable[str]) -> list[int]:
    """The private chats of the `telegram:<id>` admins (a user's id is their chat's id)."""
    return [
        int(a.split(":", 1)[1])
        for a in admins
        if a.startswith(f"{PLATFORM}:") and a.split(":", 1)[1].lstrip("-").isdigit()
    ]


def menus(
    commands: Sequence[Command], *, admin: bool
) -> Iterator[tuple[str | None, list[tuple[str, str]]]]:
    """(language_code, [(name, description)]) per catalog language; English is the default."""
    for lang in LANGS:
        menu = [(c.name, c.description[lang]) for c in commands if admin or not c.admin_only]
        yield None if lang == "en" else lang, menu


def addressed(
    entities: Iterable[Entity],
    *,
    username: str,
    bot_id: int,
    reply_from: int | None,
    reply_id: int | None,
    topic_id: int | None,
) -> bool:
    """In a group: the bot was @mentioned, named in a command, or replied to.

    `reply_from`/`reply_id`: sender and id of the replied-to message; `topic_id`: the
    forum topic the message is in (None outside a topic).
    """
    username = username.lower()
    for kind, value, user_id in entities:
        if kind == "mention" and value[1:].lower() == username:
            return True
        if kind == "text_mention" and user_id == bot_id:
            return True
        if kind == "bot_command" and value.lower().endswith(f"@{username}"):
            return True
    if reply_from is None or reply_from != bot_id:
        return False
    # In a forum topic every message "replies" to the topic's first message.
    return not (topic_id is not None and reply_id == topic_id)


def strip_mention(text: str, username: str) -> str:
    pattern = rf"[ \t]*(?<![\w@])@{re.escape(username)}\b[,:]?"
    return re.sub(pattern, "", text, flags=re.IGNORECASE).strip()


def media_kind(carried: Collection[str], readable: bool) -> MediaKind | None:
    """What the message carries that the bot can't read as text or photo.

    `carried`: which of MEDIA_KINDS the message has; `readable`: it has text, a caption
    or a photo.
    """
    for kind in MEDIA_KINDS:
        if kind in carried:
            return MediaKind.LOCATION if kind == "venue" else MediaKind(kind)
    if not readable:
        return (
            MediaKind.MESSAGE
        )  # anything else (paid media, giveaways...): say so, don't go silent
    return None


def chat_key(chat_id: int, topic: int | None) -> str:
    # Forum topics are separate conversations; message ids stay unique per chat.
    return f"{chat_id}:topic{topic}" if topic else str(chat_id)


def seconds(wait: timedelta | float) -> float:
    """A RetryAfter wait in seconds, whichever way PTB gave it."""
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """`Webhook` (adapters.telegram.webhook) arguments for the configured TELEGRAM_WEBHOOK_URL."""
    assert settings.telegram_webhook_url is not None
    secret = (
        settings.telegram_webhook_secret.get_secret_value()
        if settings.telegram_webhook_secret
        else secrets.token_urlsafe(32)
    )
    return {
        "listen": settings.telegram_webhook_listen,
        "port": settings.telegram_webhook_port,
        "url_path": urlparse(settings.telegram_webhook_url).path.strip("/"),
        "webhook_url": settings.telegram_webhook_url,
        "secret_token": secret,  # updates without it are refused with 403
        "allowed_updates": list(UPDATES),
    }


def feedback_action(data: str) -> tuple[str, int] | None:
    """A feedback button's callback data ("fb:up:42") as (action, reply id); None if foreign."""
    found = _FEEDBACK.fullmatch(data)
    return (found.group(1), int(found.group(2))) if found else None
