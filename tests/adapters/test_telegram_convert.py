"""Who a group message is for, on plain values: `addressed` and `strip_mention`."""

from __future__ import annotations

import pytest

from adapters.telegram_convert import Entity, addressed, strip_mention

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
