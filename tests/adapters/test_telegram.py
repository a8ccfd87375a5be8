"""The Telegram adapter end to end: private chats, streamed replies and groups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from bot.engine import Engine
from bot.types import Turn
from tests.adapters.telegram_harness import ANA, BEN, GROUP, StartBot, bot_starter, call_order
from tests.fakes.model import FakeModel
from tests.fakes.telegram_api import TEXT_LIMIT, utf16_len


@pytest.fixture
async def start_bot(make_engine: Callable[..., Engine]) -> AsyncIterator[StartBot]:
    async with bot_starter(make_engine) as start:
        yield start


# -- private chats and streaming ------------------------------------------------------


async def test_private_message_shows_typing_then_streams_edits_to_the_full_answer(
    start_bot: StartBot,
) -> None:
    answer = "Madrid is the capital of Spain. It has about 3.3 million people. " * 3
    answer = answer.strip()
    bot = await start_bot(FakeModel(answer, chunk=16, delay=0.01))
    bot.api.push_text(ANA, ANA, "capital of Spain?")
    [text] = await bot.answered(ANA)
    [msg] = bot.api.bot_messages(ANA)
    assert text == answer
    order = call_order(bot, ANA)
    assert order.index("sendChatAction") < order.index("sendMessage")
    assert bot.api.calls_of("sendChatAction")[0]["action"] == "typing"
    assert len(msg.history) > 3  # sent with the first chunk, then edited as text arrived
    assert len(msg.history[0][0]) < len(answer)
    assert bot.user_texts() == ["capital of Spain?"]
    assert msg.reply_to is None  # no quoting in a private chat


async def test_edits_are_throttled_per_reply(start_bot: StartBot) -> None:
    interval = 0.2
    answer = "word " * 40  # 20 chunks, 50 ms apart: each reply streams for about 1 s
    model = FakeModel(answer.strip(), chunk=10, delay=0.05)
    bot = await start_bot(model, TERTULIA_EDIT_INTERVAL=interval)
    for chat in (1, 2, 3):  # out of step, so no reply's chunks always arrive first
        bot.api.push_text(chat, chat, "hi")
        await asyncio.sleep(0.03)
    for chat in (1, 2, 3):
        await bot.answered(chat)
        [msg] = bot.api.bot_messages(chat)
        assert msg.text == answer.strip()
        # Every reply keeps moving: a throttle shared by the three would starve some.
        progress = msg.times[:-1]  # the final edit is never held back
        assert len(progress) >= 3, msg.history  # about 5 when each reply has its own
        gaps = [b - a for a, b in zip(progress, progress[1:], strict=False)]
        assert min(gaps) >= interval - 0.005, gaps


async def test_429_on_the_final_edit_waits_and_still_delivers_the_full_text(
    start_bot: StartBot,
) -> None:
    answer = "A long answer that arrives in several chunks and must end complete."
    bot = await start_bot(FakeModel(answer, chunk=8), TERTULIA_EDIT_INTERVAL=60)
    bot.api.fail_next(
        "editMessageText",
        429,
        "Too Many Requests: retry after 1",
        retry_after=1,
        match=lambda p: p["text"] == answer,
    )
    bot.api.push_text(ANA, ANA, "tell me")
    await bot.api.wait_for(lambda: bot.api.texts(ANA) == [answer], timeout=5)
    assert bot.api.errors == [("editMessageText", 429, "Too Many Requests: retry after 1")]
    assert len(bot.api.calls_of("editMessageText")) == 2


async def test_message_not_modified_is_not_an_error(start_bot: StartBot) -> None:
    answer = "Same text twice."
    bot = await start_bot(FakeModel(answer, chunk=4), TERTULIA_EDIT_INTERVAL=60)
    # Telegram already applied the final edit but the answer got lost: the retry says
    # "not modified", which must count as delivered.
    bot.api.fail_next("editMessageText", 400, "Bad Request: message is not modified")
    bot.api.push_text(ANA, ANA, "hi")
    await bot.answered(ANA)
    bot.api.push_text(ANA, ANA, "again")
    assert await bot.answered(ANA, 2) == ["Same", answer]  # the first reply's edit was lost


async def test_long_answer_with_code_is_split_into_valid_messages(start_bot: StartBot) -> None:
    code = "\n".join(
        f"    total_{i} = compute(value_{i}, factor={i})  # step {i}" for i in range(180)
    )
    intro = "Here is the program you asked for. It computes every step in turn.\n\n"
    answer = intro + "```python\ndef main():\n" + code + "\n```\n\nThat is all: run it with python."
    assert len(answer) >= 10_000
    bot = await start_bot(FakeModel(answer, chunk=700))
    bot.api.push_text(ANA, ANA, "write the program")
    await bot.answered(ANA, 3)
    messages = bot.api.bot_messages(ANA)
    assert len(messages) >= 3
    assert bot.api.errors == []
    code_lines: list[str] = []
    for msg in messages:
        assert 0 < utf16_len(msg.text) <= TEXT_LIMIT
        assert "```" not in msg.text  # fences became `pre` entities, balanced per message
        for ent in msg.entities:
            if ent["type"] == "pre":
                assert ent["language"] == "python"
                block = msg.text[ent["offset"] : ent["offset"] + ent["length"]]
                code_lines += block.splitlines()
    # Every code line arrives, once, in order, inside a code block; and the prose too.
    expected = ["def main():", *code.splitlines()]
    assert [line for line in code_lines if line.strip()] == expected
    assert messages[0].text.startswith("Here is the program")
    assert messages[-1].text.endswith("run it with python.")


async def test_unbalanced_markdown_never_fails_a_send(start_bot: StartBot) -> None:
    answer = "Careful: *not bold, _not italic, [not a link and `not code\n\n**half"
    bot = await start_bot(FakeModel(answer, chunk=5))
    bot.api.push_text(ANA, ANA, "go")
    [text] = await bot.answered(ANA)
    assert bot.api.errors == []
    assert "not a link" in text and "half" in text
    # Formatting goes as entities: no parse_mode, so no escaping to get wrong.
    calls = bot.api.calls_of("sendMessage") + bot.api.calls_of("editMessageText")
    assert calls and not any(p.get("parse_mode") for p in calls)


async def test_rejected_formatting_is_resent_as_plain_text(start_bot: StartBot) -> None:
    answer = "This is **very** important."
    bot = await start_bot(FakeModel(answer, chunk=100))
    bot.api.fail_next(
        "sendMessage",
        400,
        "Bad Request: can't parse entities: unsupported",
        match=lambda p: bool(p.get("entities")),
    )
    bot.api.push_text(ANA, ANA, "go")
    [text] = await bot.answered(ANA)
    assert text == answer  # the Markdown as plain text: never lost
    assert [m for m, _, _ in bot.api.errors] == ["sendMessage"]


# -- groups ------------------------------------------------------------------------------


async def test_group_answers_only_mentions_and_replies_to_the_bot(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "hello everyone")
    bot.api.push_text(GROUP, ANA, "ask @other_bot instead")
    mention = bot.api.push_text(GROUP, ANA, "@tertulia_bot what's up?")
    await bot.answered(GROUP)
    assert len(bot.model.calls) == 1 and bot.user_texts() == ["what's up?"]
    [reply] = bot.api.bot_messages(GROUP)
    assert reply.reply_to == mention["message_id"]  # quotes whom it answers
    bot.api.push_text(GROUP, BEN, "thanks", reply_to=reply.message_id)
    await bot.answered(GROUP, 2)
    assert bot.user_texts() == ["thanks"]  # Ben's own conversation
    assert len(bot.model.calls) == 2


async def test_a_bare_mention_in_a_group_gets_a_greeting(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "@tertulia_bot", language_code="es")
    await bot.answered(GROUP)
    [reply] = bot.api.bot_messages(GROUP)
    assert reply.text.startswith("¡Hola") and "/help" in reply.text
    assert bot.model.calls == []  # a greeting, not a question for the model


async def test_two_users_in_a_group_keep_separate_memory(start_bot: StartBot) -> None:
    def echo(turns: Sequence[Turn]) -> str:
        return " | ".join(turn.text for turn in turns if turn.role == "user")

    bot = await start_bot(FakeModel(echo))
    bot.api.push_text(GROUP, ANA, "@tertulia_bot I am Ana")
    await bot.answered(GROUP, 1)
    bot.api.push_text(GROUP, BEN, "@tertulia_bot I am Ben")
    await bot.answered(GROUP, 2)
    bot.api.push_text(GROUP, ANA, "@tertulia_bot who am I?")
    texts = await bot.answered(GROUP, 3)
    assert texts[2] == "I am Ana | who am I?"
    # A forum topic is a conversation of its own, even for the same user.
    bot.api.push_text(GROUP, ANA, "@tertulia_bot in the topic", thread_id=7)
    texts = await bot.answered(GROUP, 4)
    assert texts[3] == "in the topic"
    assert bot.api.bot_messages(GROUP)[3].thread_id == 7


async def test_a_photo_with_the_bot_named_in_its_caption_is_answered(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(FakeModel("A dog."))
    bot.api.push_photo(GROUP, ANA, b"\xff\xd8 not for us", caption="look at this")
    bot.api.push_photo(GROUP, ANA, b"\xff\xd8 dog", caption="@Tertulia_Bot what is it?")
    assert await bot.answered(GROUP) == ["A dog."]
    [(_, turns)] = bot.model.calls
    assert turns[-1].text == "what is it?"
    assert turns[-1].images[0].data == b"\xff\xd8 dog"


async def test_commands_for_another_bot_are_ignored_in_groups(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "/help@other_bot")
    bot.api.push_text(GROUP, ANA, "/model@tertulia_bot")
    [text] = await bot.answered(GROUP)
    assert "fake-1" in text
