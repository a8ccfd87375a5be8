"""The fake Bot API behaves like Telegram for the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, MessageEntity
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


async def test_get_me_has_username(bot: Bot, api: FakeTelegramAPI) -> None:
    me = await bot.get_me()
    assert (me.username, me.id, me.is_bot) == (api.username, api.bot_id, True)


async def test_send_and_edit_are_recorded_with_history(bot: Bot, api: FakeTelegramAPI) -> None:
    sent = await bot.send_message(42, "hel", entities=[MessageEntity("bold", 0, 3)])
    await bot.edit_message_text("hello", chat_id=42, message_id=sent.message_id)
    [msg] = api.bot_messages(42)
    assert msg.text == "hello" and msg.entities == []
    assert [text for text, _ in msg.history] == ["hel", "hello"]
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("hello", chat_id=42, message_id=sent.message_id)


async def test_rejects_what_telegram_rejects(bot: Bot, api: FakeTelegramAPI) -> None:
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(42, "😀" * 2049)  # 4098 UTF-16 units
    with pytest.raises(BadRequest, match="(?i)can.t parse entities"):
        await bot.send_message(42, "abc", entities=[MessageEntity("bold", 2, 5)])
    with pytest.raises(BadRequest, match="empty"):
        await bot.send_message(42, "  ")
    await bot.send_message(42, "😀" * 2048)  # exactly the limit
    assert len(api.errors) == 3 and len(api.bot_messages(42)) == 1


async def test_scripted_failures_hit_matching_calls_once(bot: Bot, api: FakeTelegramAPI) -> None:
    api.fail_next(
        "sendMessage", 429, "Too Many Requests", retry_after=3, match=lambda p: "b" in p["text"]
    )
    await bot.send_message(1, "a")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1, "b")
    assert "3" in str(info.value)
    await bot.send_message(1, "b")
    assert api.texts(1) == ["a", "b"] and api.pending_failures() == 0


async def test_get_updates_long_polls_and_honours_offset(bot: Bot, api: FakeTelegramAPI) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # held open until an update arrives
    api.push_text(5, 5, "/start hi", language_code="es")
    [update] = await waiting
    message = update.message
    assert message is not None and message.from_user is not None
    assert message.text == "/start hi"
    assert message.entities[0].type == "bot_command"
    assert message.from_user.language_code == "es"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_photo_files_download(bot: Bot, api: FakeTelegramAPI) -> None:
    api.push_photo(5, 5, b"JPEG-BYTES", caption="look @tertulia_bot")
    [update] = await bot.get_updates(timeout=1)
    message = update.message
    assert message is not None
    file = await message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == b"JPEG-BYTES"
    assert message.caption_entities[0].type == "mention"


async def test_set_my_commands_recorded_per_language(bot: Bot, api: FakeTelegramAPI) -> None:
    await bot.set_my_commands([("start", "Hello")])
    await bot.set_my_commands([("start", "Hola")], language_code="es")
    assert api.commands_for()[0]["description"] == "Hello"
    assert api.commands_for("es")[0]["description"] == "Hola"


async def test_bad_markdown_v2_is_refused(bot: Bot, api: FakeTelegramAPI) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(1, "*half bold", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(1, "Done.", parse_mode="MarkdownV2")
    await bot.send_message(1, "*bold* Done\\.", parse_mode="MarkdownV2")
    assert api.texts(1) == ["*bold* Done\\."]


async def test_an_outage_answers_502_pages_for_a_while(bot: Bot, api: FakeTelegramAPI) -> None:
    api.fail_for("sendMessage", 0.3)
    with pytest.raises(NetworkError, match="Bad Gateway") as info:
        await bot.send_message(1, "a")
    assert not isinstance(info.value, BadRequest)
    await bot.get_me()  # other methods still answer
    await asyncio.sleep(0.35)
    await bot.send_message(1, "b")
    assert api.texts(1) == ["b"] and api.errors[0][:2] == ("sendMessage", 502)


async def test_forbidden_and_calls_per_chat(bot: Bot, api: FakeTelegramAPI) -> None:
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
    for chat in (1, 2):
        with pytest.raises(Forbidden):
            await bot.send_message(chat, "x")
    assert [p["chat_id"] for p in api.calls_of("sendMessage", 2)] == [2]


async def test_held_calls_wait_until_released(bot: Bot, api: FakeTelegramAPI) -> None:
    gate = api.hold("sendMessage")
    sending = asyncio.create_task(bot.send_message(1, "later"))
    await api.wait_for(lambda: api.calls_of("sendMessage"))
    await asyncio.sleep(0.05)
    assert not sending.done() and api.texts(1) == []  # recorded, not answered
    gate.set()
    assert (await sending).text == "later"
