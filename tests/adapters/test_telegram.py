"""The Telegram adapter end to end: real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from telegram.ext import Application

from adapters.telegram_bot import build_application, serve
from bot.engine import Engine
from bot.i18n import media_name, t
from bot.types import Image, Turn
from config.settings import Settings
from tests.fakes.model import FakeModel
from tests.fakes.telegram_api import TEXT_LIMIT, FakeTelegramAPI, utf16_len

GROUP = -100123
ANA, BEN = 11, 22


@dataclass
class Bot:
    api: FakeTelegramAPI
    model: FakeModel
    engine: Engine
    app: Application[Any, Any, Any, Any, Any, Any]

    def user_texts(self, call: int = -1) -> list[str]:
        """The user turns the model saw in one call."""
        return [turn.text for turn in self.model.calls[call][1] if turn.role == "user"]

    async def answered(self, chat_id: int, count: int = 1) -> list[str]:
        """Wait until `count` replies in `chat_id` exist and their last edit is complete."""
        await self.api.wait_for(lambda: len(self.api.bot_messages(chat_id)) >= count)
        await self.settled()
        return self.api.texts(chat_id)

    async def settled(self) -> None:
        """Wait until no update is queued or being handled (every reply fully delivered)."""
        quiet = 0
        for _ in range(500):
            busy = self.app.update_processor.current_concurrent_updates
            quiet = quiet + 1 if busy == 0 and self.app.update_queue.empty() else 0
            if quiet == 2:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the adapter is still busy")


StartBot = Callable[..., Any]


@pytest.fixture
async def start_bot(make_engine: Callable[..., Engine]) -> AsyncIterator[StartBot]:
    """`await start_bot(model, engine_kwargs={}, **settings)`: the adapter polling a fake API."""
    async with AsyncExitStack() as stack:

        async def start(
            model: FakeModel | None = None, engine_kwargs: dict[str, Any] | None = None, **env: Any
        ) -> Bot:
            api = await stack.enter_async_context(FakeTelegramAPI())
            model = model or FakeModel("Hello! How can I help?")
            engine = make_engine(model, **(engine_kwargs or {}))
            values = {
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_BASE_URL": api.root,
                "TERTULIA_EDIT_INTERVAL": 0,
                **env,
            }
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
            stop = asyncio.Event()
            app = build_application(settings, engine)
            task = asyncio.create_task(serve(app, settings, stop))

            async def shutdown() -> None:
                stop.set()
                await asyncio.wait_for(task, 10)

            stack.push_async_callback(shutdown)
            ready = "setWebhook" if "TELEGRAM_WEBHOOK_URL" in env else "getUpdates"
            await api.wait_for(lambda: api.calls_of(ready) or task.done())
            if task.done():
                task.result()  # start-up failed: show why
            return Bot(api, model, engine, app)

        yield start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call_order(bot: Bot, chat_id: int) -> list[str]:
    return [m for m, p in bot.api.calls if p.get("chat_id") == chat_id]


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
    answer = "word " * 200
    bot = await start_bot(FakeModel(answer.strip(), chunk=10), TERTULIA_EDIT_INTERVAL=60)
    for chat in (1, 2, 3):
        bot.api.push_text(chat, chat, "hi")
    for chat in (1, 2, 3):
        await bot.answered(chat)
        [msg] = bot.api.bot_messages(chat)
        # The first chunk, then only the final edit: 100 chunks, no edit in between,
        # and each reply got its own final edit (the throttle is not shared).
        assert [text for text, _ in msg.history] == ["word word", answer.strip()]


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


async def test_commands_for_another_bot_are_ignored_in_groups(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(GROUP, ANA, "/help@other_bot")
    bot.api.push_text(GROUP, ANA, "/model@tertulia_bot")
    [text] = await bot.answered(GROUP)
    assert "fake-1" in text


# -- commands ------------------------------------------------------------------------------


async def test_commands_are_the_menu_in_english_and_spanish(start_bot: StartBot) -> None:
    bot = await start_bot(TERTULIA_ADMINS=f"telegram:{ANA},discord:5")
    public = [c for c in bot.engine.commands() if not c.admin_only]
    english, spanish = bot.api.commands_for(), bot.api.commands_for("es")
    assert [c["command"] for c in english] == [c.name for c in public]
    assert [c["description"] for c in spanish] == [c.description["es"] for c in public]
    assert "stats" not in [c["command"] for c in english]
    # The admin also gets the admin-only commands, in their own chat.
    admin = bot.api.commands_for("es", scope={"type": "chat", "chat_id": ANA})
    assert "stats" in [c["command"] for c in admin]


async def test_start_greets_in_the_users_language(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(ANA, ANA, "/start", language_code="es", first_name="Ana")
    [text] = await bot.answered(ANA)
    assert text.startswith("¡Hola Ana!") and "/persona" in text
    bot.api.push_text(BEN, BEN, "/start", language_code="en-GB", first_name="Ben")
    [text] = await bot.answered(BEN)
    assert text.startswith("Hi Ben!")
    assert bot.model.calls == []  # commands never reach the model


async def test_help_new_persona_and_lang_commands(start_bot: StartBot) -> None:
    bot = await start_bot()
    steps = [
        ("/help", "/forget"),
        ("/new", t("new_done", "en")),
        ("/persona tutor", "Persona set to tutor"),
        ("/lang es", t("lang_set", "es")),
        ("/help", t("help_header", "es")),
    ]
    for n, (command, expected) in enumerate(steps, start=1):
        bot.api.push_text(ANA, ANA, command)
        texts = await bot.answered(ANA, n)
        assert expected in texts[-1], command
    bot.api.push_text(ANA, ANA, "hola")
    await bot.answered(ANA, len(steps) + 1)
    system = bot.model.calls[-1][0]
    assert "tutor" in system.lower()


# -- media and bad input ---------------------------------------------------------------------


async def test_photo_reaches_the_model_as_the_largest_image(start_bot: StartBot) -> None:
    bot = await start_bot(FakeModel("A cat."))
    bot.api.push_photo(ANA, ANA, b"\xff\xd8 big jpeg", caption="what is this?")
    assert await bot.answered(ANA) == ["A cat."]
    last = bot.model.calls[-1][1][-1]
    assert last.text == "what is this?"
    assert last.images == (Image(b"\xff\xd8 big jpeg", "image/jpeg"),)


async def test_image_sent_as_a_file_reaches_the_model(start_bot: StartBot) -> None:
    bot = await start_bot(FakeModel("A chart."))
    fid = bot.api.add_file(b"\x89PNG chart", "documents/chart.png")
    doc = {"file_id": fid, "file_unique_id": "u1", "file_name": "chart.png",
           "mime_type": "image/png", "file_size": 11}  # fmt: skip
    bot.api.push_message(ANA, ANA, document=doc, caption="explain")
    assert await bot.answered(ANA) == ["A chart."]
    assert bot.model.calls[-1][1][-1].images == (Image(b"\x89PNG chart", "image/png"),)


async def test_photo_without_vision_gets_an_explanation(start_bot: StartBot) -> None:
    bot = await start_bot(FakeModel("unused", accepts_images=False))
    bot.api.push_photo(ANA, ANA, b"\xff\xd8", language_code="es")
    [text] = await bot.answered(ANA)
    assert text == t("no_images", "es", model="fake-1")
    assert bot.model.calls == []


@pytest.mark.parametrize("kind", ["sticker", "voice", "video", "document"])
async def test_unsupported_media_gets_a_short_answer(start_bot: StartBot, kind: str) -> None:
    bot = await start_bot()
    bot.api.push_media(ANA, ANA, kind)
    [text] = await bot.answered(ANA)
    assert media_name(kind, "en") in text and "text" in text
    assert bot.model.calls == []


async def test_empty_text_is_ignored_and_oversize_text_explained(start_bot: StartBot) -> None:
    bot = await start_bot(engine_kwargs={"max_input_chars": 100})
    bot.api.push_text(ANA, ANA, "   \n  ")
    bot.api.push_text(ANA, ANA, "x" * 150)
    [text] = await bot.answered(ANA)
    assert text == t("too_long", "en", length=150, limit=100)
    assert bot.model.calls == []


async def test_redelivered_message_is_answered_once(start_bot: StartBot) -> None:
    bot = await start_bot()
    first = bot.api.push_text(ANA, ANA, "only once")
    await bot.answered(ANA)
    bot.api.push_update({"message": first})  # same chat and message id, new update id
    bot.api.push_text(ANA, ANA, "next")
    await bot.answered(ANA, 2)
    assert len(bot.api.bot_messages(ANA)) == 2
    assert [bot.user_texts(i)[-1] for i in range(2)] == ["only once", "next"]


async def test_messages_from_bots_are_ignored(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(ANA, ANA, "I am a bot", is_bot=True)
    bot.api.push_text(BEN, BEN, "I am not")
    await bot.answered(BEN)
    assert bot.api.bot_messages(ANA) == [] and len(bot.model.calls) == 1


# -- webhook ---------------------------------------------------------------------------------


async def test_webhook_rejects_a_wrong_secret_and_answers_the_right_one(
    start_bot: StartBot,
) -> None:
    port = free_port()
    bot = await start_bot(
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
        TELEGRAM_WEBHOOK_SECRET="right-secret",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=port,
    )
    assert bot.api.webhook is not None
    assert bot.api.webhook["secret_token"] == "right-secret"
    assert bot.api.calls_of("getUpdates") == []
    message = bot.api.make_message(ANA, ANA, text="via webhook")
    assert await bot.api.post_to_webhook({"message": message}, secret="wrong") == 403
    assert await bot.api.post_to_webhook({"message": message}, secret="") == 403
    assert await bot.api.post_to_webhook({"message": message}) == 200
    assert await bot.answered(ANA) == ["Hello! How can I help?"]
    assert bot.user_texts() == ["via webhook"]
