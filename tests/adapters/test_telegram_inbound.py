"""The Telegram adapter end to end: commands, media, bad input and the webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.engine import Engine
from bot.i18n import media_name, t
from bot.types import Image
from tests.adapters.telegram_harness import ANA, BEN, StartBot, bot_starter, free_port
from tests.fakes.model import FakeModel


@pytest.fixture
async def start_bot(make_engine: Callable[..., Engine]) -> AsyncIterator[StartBot]:
    async with bot_starter(make_engine) as start:
        yield start


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
