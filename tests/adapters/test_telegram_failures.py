"""The Telegram adapter end to end when things go wrong: slow downloads, refused edits, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from telegram.error import Forbidden

from adapters.telegram_bot import _translated
from adapters.telegram_stream import Rejected
from bot.engine import Engine
from bot.i18n import t
from tests.adapters.telegram_harness import ANA, StartBot, bot_starter
from tests.fakes.model import FakeModel


@pytest.fixture
async def start_bot(make_engine: Callable[..., Engine]) -> AsyncIterator[StartBot]:
    async with bot_starter(make_engine) as start:
        yield start


async def test_a_slow_photo_is_still_answered_before_the_text_that_follows_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(FakeModel("Noted."))
    bot.api.file_delay = 0.3  # the photo downloads while the text is already in
    bot.api.push_photo(ANA, ANA, b"\xff\xd8 jpeg", caption="what is this?")
    bot.api.push_text(ANA, ANA, "and then?")
    await bot.answered(ANA, 2)
    first, second = (turns[-1] for _, turns in bot.model.calls)
    assert (first.text, second.text) == ("what is this?", "and then?")
    assert first.images and first.images[0].data == b"\xff\xd8 jpeg"


@pytest.mark.parametrize(
    "error", ["Bad Request: message to edit not found", "Bad Request: message can't be edited"]
)
async def test_a_refused_final_edit_still_delivers_the_whole_reply(
    start_bot: StartBot, error: str
) -> None:
    answer = "A long answer that arrives in several chunks and must end complete."
    bot = await start_bot(FakeModel(answer, chunk=8), TERTULIA_EDIT_INTERVAL=60)
    bot.api.fail_next("editMessageText", 400, error, match=lambda p: p["text"] == answer)
    bot.api.push_text(ANA, ANA, "tell me")
    await bot.api.wait_for(lambda: answer in bot.api.texts(ANA))
    await bot.answered(ANA)
    assert bot.api.texts(ANA) == [answer[:8], answer]  # the rest went in a new message


async def test_a_reply_that_cannot_be_sent_becomes_a_short_error_notice(
    start_bot: StartBot,
) -> None:
    answer = "Hola, ¿qué tal?"
    bot = await start_bot(FakeModel(answer))
    # Refused formatted and plain; the notice itself goes through.
    refused = ("sendMessage", 400, "Bad Request: TOPIC_CLOSED")
    bot.api.fail_next(*refused, times=2, match=lambda p: p["text"].startswith("Hola"))
    bot.api.push_text(ANA, ANA, "hola", language_code="es")
    assert await bot.answered(ANA) == [t("internal_error", "es")]


async def test_a_group_upgraded_to_a_supergroup_gets_the_reply_on_its_new_id(
    start_bot: StartBot,
) -> None:
    old, new = -5, -100555
    bot = await start_bot(FakeModel("Still here."))
    bot.api.fail_next(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to=new,
        match=lambda p: p["chat_id"] == old,
    )
    bot.api.push_text(old, ANA, "@tertulia_bot hi", chat_type="group")
    assert await bot.answered(new) == ["Still here."]
    assert bot.api.bot_messages(old) == []


async def test_other_telegram_errors_become_rejected() -> None:
    async def blocked() -> None:
        raise Forbidden("Forbidden: bot was blocked by the user")

    with pytest.raises(Rejected, match="blocked"):
        await _translated(blocked())
