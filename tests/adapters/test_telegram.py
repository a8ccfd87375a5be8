"""The Telegram adapter end to end: private chats, streamed replies and groups.

The real python-telegram-bot talks to the fake Bot API; the engine is faked at its port
(ScriptedEngine), so these tests check what the adapter handed over and what Telegram got.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.types import CommandCall, ConversationKey, Image
from tests.adapters.telegram_harness import ANA, BEN, GROUP, StartBot, bot_starter, call_order
from tests.fakes.engine import ScriptedEngine
from tests.fakes.telegram_api import TEXT_LIMIT, utf16_len


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


def key(user: int, chat: int | str) -> ConversationKey:
    return ConversationKey("telegram", str(user), str(chat))


# -- private chats and streaming ------------------------------------------------------


async def test_private_message_shows_typing_then_streams_edits_to_the_full_answer(
    start_bot: StartBot,
) -> None:
    answer = "Madrid is the capital of Spain. It has about 3.3 million people. " * 3
    answer = answer.strip()
    bot = await start_bot(ScriptedEngine(answer, chunk=16, delay=0.05))
    sent = bot.api.push_text(ANA, ANA, "capital of Spain?", language_code="es-ES")
    [text] = await bot.answered(ANA)
    [msg] = bot.api.bot_messages(ANA)
    assert text == answer
    order = call_order(bot, ANA)
    assert order.index("sendChatAction") < order.index("sendMessage")
    assert bot.api.calls_of("sendChatAction")[0]["action"] == "typing"
    assert len(msg.history) > 3  # sent with the first chunk, then edited as text arrived
    assert len(msg.history[0][0]) < len(answer)
    assert msg.reply_to is None  # no quoting in a private chat
    [handed] = bot.engine.messages
    assert handed.key == key(ANA, ANA)
    assert (handed.text, handed.command, handed.is_direct) == ("capital of Spain?", None, True)
    assert handed.language == "es-ES"  # the platform's hint, as given
    assert handed.message_id == str(sent["message_id"])
    assert handed.display_name == "Ana"
    assert (handed.images, handed.unsupported) == ((), None)


async def test_a_quick_answer_costs_one_send_and_nothing_else(start_bot: StartBot) -> None:
    answer = "Madrid. It has about 3.3 million people, and it is the capital of Spain."
    bot = await start_bot(ScriptedEngine(answer, chunk=4), TERTULIA_FIRST_WAIT=0.5)
    bot.api.push_text(ANA, ANA, "capital of Spain?")
    assert await bot.answered(ANA) == [answer]
    assert call_order(bot, ANA) == ["sendMessage"]  # no typing, no edits


async def test_edits_are_throttled_per_reply(start_bot: StartBot) -> None:
    pieces = 20
    answer = "word " * 40  # 20 pieces, 50 ms apart: each reply streams for about 1 s
    bot = await start_bot(
        ScriptedEngine(answer.strip(), chunk=10, delay=0.05), TERTULIA_EDIT_INTERVAL=0.2
    )
    for chat in (1, 2, 3):  # three replies streaming at once
        bot.api.push_text(chat, chat, "hi")
    for chat in (1, 2, 3):
        await bot.answered(chat)
        [msg] = bot.api.bot_messages(chat)
        assert msg.text == answer.strip()
        # Fewer versions than pieces: throttled; several: it kept moving while the other
        # two streamed (about 6 each). Gaps and per-reply isolation: tests/delivery.
        assert 3 <= len(msg.history) < pieces, [t for t, _ in msg.history]


async def test_429_on_the_final_edit_waits_and_still_delivers_the_full_text(
    start_bot: StartBot,
) -> None:
    answer = "A long answer that arrives in several chunks and must end complete."
    bot = await start_bot(ScriptedEngine(answer, chunk=8), TERTULIA_EDIT_INTERVAL=60)
    bot.api.fail_next(
        "editMessageText",
        429,
        "Too Many Requests: retry after 1",
        retry_after=1,
        match=lambda p: p["text"] == answer,
    )
    bot.api.push_text(ANA, ANA, "tell me")
    await bot.api.wait_for(lambda: bot.api.texts(ANA) == [answer], timeout=5)
    await bot.settled()
    assert bot.api.errors == [("editMessageText", 429, "Too Many Requests: retry after 1")]
    assert len(bot.api.calls_of("editMessageText")) == 2
    assert bot.engine.undelivered_refs == []


async def test_message_not_modified_is_not_an_error(start_bot: StartBot) -> None:
    answer = "Same text twice."
    bot = await start_bot(ScriptedEngine(answer, chunk=4), TERTULIA_EDIT_INTERVAL=60)
    # Telegram already applied the final edit but the answer got lost: the retry says
    # "not modified", which must count as delivered.
    bot.api.fail_next("editMessageText", 400, "Bad Request: message is not modified")
    bot.api.push_text(ANA, ANA, "hi")
    await bot.answered(ANA)
    bot.api.push_text(ANA, ANA, "again")
    assert await bot.answered(ANA, 2) == ["Same", answer]  # the first reply's edit was lost
    assert bot.engine.undelivered_refs == []  # delivered, as far as anyone can tell
    assert len(bot.api.calls_of("sendMessage")) == 2  # and no error notice


async def test_long_answer_with_code_is_split_into_valid_messages(start_bot: StartBot) -> None:
    code = "\n".join(
        f"    total_{i} = compute(value_{i}, factor={i})  # step {i}" for i in range(180)
    )
    intro = "Here is the program you asked for. It computes every step in turn.\n\n"
    answer = intro + "```python\ndef main():\n" + code + "\n```\n\nThat is all: run it with python."
    assert len(answer) >= 10_000
    bot = await start_bot(ScriptedEngine(answer, chunk=700))
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
    bot = await start_bot(ScriptedEngine(answer, chunk=5))
    bot.api.push_text(ANA, ANA, "go")
    [text] = await bot.answered(ANA)
    assert bot.api.errors == []
    assert "not a link" in text and "half" in text
    # Formatting goes as entities: no parse_mode, so no escaping to get wrong.
    calls = bot.api.calls_of("sendMessage") + bot.api.calls_of("editMessageText")
    assert calls and not any(p.get("parse_mode") for p in calls)


async def test_rejected_formatting_is_resent_as_plain_text(start_bot: StartBot) -> None:
    answer = "This is **very** important."
    bot = await start_bot(ScriptedEngine(answer, chunk=100))
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
    assert bot.api.bot_messages(ANA)[0].entities == []


# -- groups ------------------------------------------------------------------------------


async def test_group_answers_only_mentions_and_replies_to_the_bot(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "hello everyone")
    bot.api.push_text(GROUP, ANA, "ask @other_bot instead")
    bot.api.push_text(GROUP, BEN, "a reply to Ana", reply_to=1)
    mention = bot.api.push_text(GROUP, ANA, "@tertulia_bot what's up?")
    await bot.answered(GROUP)
    [handed] = bot.engine.messages
    assert (handed.key, handed.text, handed.is_direct) == (key(ANA, GROUP), "what's up?", False)
    [reply] = bot.api.bot_messages(GROUP)
    assert reply.reply_to == mention["message_id"]  # quotes whom it answers
    bot.api.push_text(GROUP, BEN, "thanks", reply_to=reply.message_id)
    await bot.answered(GROUP, 2)
    ana, ben = bot.engine.messages
    assert (ben.key, ben.text) == (key(BEN, GROUP), "thanks")  # Ben's own conversation
    assert ana.key != ben.key


async def test_a_bare_mention_in_a_group_is_handed_over_as_start(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Hi!"))
    bot.api.push_text(GROUP, ANA, "@tertulia_bot", language_code="es")
    assert await bot.answered(GROUP) == ["Hi!"]
    [handed] = bot.engine.messages
    assert (handed.command, handed.text, handed.language) == (CommandCall("start"), "", "es")


async def test_a_forum_topic_is_a_conversation_of_its_own(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "@tertulia_bot in the group")
    await bot.answered(GROUP, 1)
    bot.api.push_text(GROUP, ANA, "@tertulia_bot in the topic", thread_id=7)
    await bot.answered(GROUP, 2)
    outside, inside = bot.engine.messages
    assert outside.key == key(ANA, GROUP)
    assert inside.key == key(ANA, f"{GROUP}:topic7")
    assert [m.thread_id for m in bot.api.bot_messages(GROUP)] == [None, 7]
    assert bot.api.calls_of("sendChatAction")[-1]["message_thread_id"] == 7


async def test_a_reply_to_the_topic_root_is_not_a_reply_to_the_bot(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "@tertulia_bot open the topic", thread_id=7)
    await bot.answered(GROUP, 1)
    root = bot.api.bot_messages(GROUP)[0].message_id
    # Inside a topic every message "replies" to the topic's first message.
    bot.api.push_text(GROUP, BEN, "just chatting", thread_id=root, reply_to=root)
    bot.api.push_text(GROUP, BEN, "@tertulia_bot and you?", thread_id=root, reply_to=root)
    await bot.answered(GROUP, 2)
    assert [m.text for m in bot.engine.messages] == ["open the topic", "and you?"]


async def test_a_photo_with_the_bot_named_in_its_caption_is_answered(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine("A dog."))
    bot.api.push_photo(GROUP, ANA, b"\xff\xd8 not for us", caption="look at this")
    bot.api.push_photo(GROUP, ANA, b"\xff\xd8 dog", caption="@Tertulia_Bot what is it?")
    assert await bot.answered(GROUP) == ["A dog."]
    [handed] = bot.engine.messages
    assert handed.text == "what is it?"
    assert bot.engine.fetched == [(Image(b"\xff\xd8 dog", "image/jpeg"),)]


async def test_commands_for_another_bot_are_ignored_in_groups(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "/help@other_bot")
    bot.api.push_text(GROUP, ANA, "/model@tertulia_bot")
    bot.api.push_text(GROUP, ANA, "/persona@tertulia_bot tutor")
    await bot.answered(GROUP, 2)
    assert [m.command for m in bot.engine.messages] == [
        CommandCall("model"),
        CommandCall("persona", "tutor"),
    ]
