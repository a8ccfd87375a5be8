"""A reply's file (a person's /export) through real python-telegram-bot to the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.types import Attachment, Done, IncomingMessage, Outcome, ReplyEvent, TurnRef
from tests.adapters.telegram_harness import ANA, GROUP, StartBot, bot_starter, call_order
from tests.fakes.engine import ScriptedEngine

REF = TurnRef(1, 1, 1, 2)
# Not UTF-8, with CR LF and NUL: any re-encoding on the way would show.
DATA = b'{"name": "Ana \xc3\xa9"}\r\n\x00\xff\xfe' * 1000
FILE = Attachment("tertulia-export-ana.json", DATA)


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


def exporting(msg: IncomingMessage) -> list[ReplyEvent]:
    return ["Here is everything I keep about you.", Done(REF, Outcome.OK, attachment=FILE)]


async def test_the_file_arrives_after_the_text_with_its_exact_bytes(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(exporting))
    bot.api.push_text(ANA, ANA, "/export")
    await bot.api.wait_for(lambda: bot.api.documents.get(ANA))
    await bot.settled()
    [doc] = bot.api.documents[ANA]
    assert doc.data == DATA and doc.file_name == FILE.name
    assert doc.mime_type == "application/json"
    assert (doc.thread_id, doc.reply_to) == (None, None)  # a private chat: no quoting
    assert bot.api.texts(ANA) == ["Here is everything I keep about you."]
    # The final edit puts the answer's buttons on it (a stored reply), then the file.
    assert call_order(bot, ANA) == ["sendMessage", "editMessageText", "sendDocument"]
    assert bot.engine.undelivered_refs == []


async def test_a_rate_limited_upload_is_waited_out_and_sent_once(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(exporting))
    bot.api.fail_next("sendDocument", 429, "Too Many Requests: retry after 1", retry_after=1)
    bot.api.push_text(ANA, ANA, "/export")
    await bot.api.wait_for(lambda: bot.api.documents.get(ANA), timeout=10)
    await bot.settled()
    assert [d.data for d in bot.api.documents[ANA]] == [DATA]
    assert [e[:2] for e in bot.api.errors] == [("sendDocument", 429)]
    assert bot.engine.undelivered_refs == []


async def test_an_upload_over_the_limit_is_not_retried_and_not_delivered(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine(exporting))
    bot.api.fail_next("sendDocument", 413, "Request Entity Too Large")
    bot.api.push_text(ANA, ANA, "/export")
    await bot.api.wait_for(lambda: bot.api.calls_of("sendDocument", ANA))
    await bot.settled()
    assert len(bot.api.calls_of("sendDocument")) == 1  # a 413 never passes on a retry
    assert bot.api.documents == {}
    assert bot.engine.undelivered_refs == [REF]


async def test_a_file_is_never_sent_to_a_group(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(exporting))
    bot.api.push_text(GROUP, ANA, "/export@tertulia_bot")
    await bot.answered(GROUP)
    assert bot.api.calls_of("sendDocument") == [] and bot.api.documents == {}
    assert bot.engine.undelivered_refs == [REF]  # the reply is not what was asked for
