"""Telegram decisions on plain values: who is addressed, media kinds, keys, menus, webhook."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.telegram.convert import (
    Entity,
    addressed,
    admin_chats,
    chat_key,
    media_kind,
    menus,
    seconds,
    strip_mention,
    webhook_options,
)
from bot.commands import REGISTRY
from bot.types import MediaKind
from config.settings import Settings

BOT_ID, OTHER = 777000, 42
NAME = "tertulia_bot"


@pytest.mark.parametrize(
    ("entities", "reply_from", "reply_id", "topic_id", "expected"),
    [
        ([("mention", "@tertulia_bot", None)], None, None, None, True),
        ([("mention", "@Tertulia_BOT", None)], None, None, None, True),  # any letter case
        ([("mention", "@other_bot", None)], None, None, None, False),
        ([("mention", "@tertulia_bot_fan", None)], None, None, None, False),
        ([("text_mention", "Tertulia", BOT_ID)], None, None, None, True),  # no username
        ([("text_mention", "Tertulia", OTHER)], None, None, None, False),
        ([("bot_command", "/help@TERTULIA_bot", None)], None, None, None, True),
        ([("bot_command", "/help@other_bot", None)], None, None, None, False),
        ([("hashtag", "#tertulia_bot", None)], None, None, None, False),
        ([], BOT_ID, 5, None, True),  # a reply to the bot
        ([], OTHER, 5, None, False),
        ([], BOT_ID, 7, 7, False),  # in a forum topic everything "replies" to its root
        ([], BOT_ID, 9, 7, True),  # a real reply inside the topic
        ([("mention", "@tertulia_bot", None)], BOT_ID, 7, 7, True),
        ([], None, None, 7, False),
    ],
)
def test_addressed(
    entities: list[Entity],
    reply_from: int | None,
    reply_id: int | None,
    topic_id: int | None,
    expected: bool,
) -> None:
    got = addressed(
        entities,
        username=NAME,
        bot_id=BOT_ID,
        reply_from=reply_from,
        reply_id=reply_id,
        topic_id=topic_id,
    )
    assert got is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@tertulia_bot what's up?", "what's up?"),
        ("@Tertulia_Bot: hi", "hi"),
        ("hey @tertulia_bot, x", "hey x"),
        ("what is this @TERTULIA_BOT", "what is this"),
        ("ask @tertulia_bot_fan instead", "ask @tertulia_bot_fan instead"),
        ("write to me@tertulia_bot.org", "write to me@tertulia_bot.org"),
        ("ask @other_bot", "ask @other_bot"),
        ("@tertulia_bot", ""),
    ],
)
def test_strip_mention(text: str, expected: str) -> None:
    assert strip_mention(text, NAME) == expected


@pytest.mark.parametrize(
    ("carried", "readable", "expected"),
    [
        (set(), True, None),  # text, a caption or a photo
        ({"sticker"}, False, MediaKind.STICKER),
        ({"animation", "document"}, False, MediaKind.ANIMATION),  # a GIF carries a document too
        ({"venue", "location"}, False, MediaKind.LOCATION),
        ({"document"}, True, MediaKind.DOCUMENT),  # a captioned PDF is still a PDF
        (set(), False, MediaKind.MESSAGE),  # something new: say so, never go silent
    ],
)
def test_media_kind(carried: set[str], readable: bool, expected: MediaKind | None) -> None:
    assert media_kind(carried, readable) is expected


def test_chat_keys_separate_forum_topics() -> None:
    assert chat_key(-100123, None) == "-100123"
    assert chat_key(-100123, 7) == "-100123:topic7"


def test_admin_chats_are_the_telegram_admins_only() -> None:
    admins = ["telegram:42", "discord:42", "telegram:-5", "telegram:nope"]
    assert sorted(admin_chats(admins)) == [-5, 42]


def test_menus_are_english_by_default_and_spanish_by_code() -> None:
    commands = list(REGISTRY.values())
    public = dict(menus(commands, admin=False))
    admin = dict(menus(commands, admin=True))
    assert set(public) == {None, "es"}
    assert [name for name, _ in public[None]] == [c.name for c in commands if not c.admin_only]
    assert [name for name, _ in admin["es"]] == [c.name for c in commands]


def test_retry_after_in_seconds_either_way() -> None:
    assert seconds(timedelta(seconds=3)) == 3.0 and seconds(7) == 7.0


def settings(**env: Any) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_webhook_options_with_and_without_a_secret() -> None:
    url = "https://bot.example/tg/hook"
    options = webhook_options(settings(TELEGRAM_WEBHOOK_URL=url, TELEGRAM_WEBHOOK_SECRET="s3cret"))
    assert (options["url_path"], options["webhook_url"]) == ("tg/hook", url)
    assert options["secret_token"] == "s3cret"
    assert options["allowed_updates"] == ["message", "callback_query"]  # texts and buttons
    made_up = webhook_options(settings(TELEGRAM_WEBHOOK_URL=url))
    assert len(made_up["secret_token"]) >= 32  # never a webhook anyone can post to
