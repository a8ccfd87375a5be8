"""The Telegram adapter end to end, inbound: commands, media, who is answered, the webhook.

What the engine says to each is its own business (tests/engine): here, what it was handed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.commands import REGISTRY
from bot.types import CommandCall, Image, MediaKind, RemoteImage
from tests.adapters.telegram_harness import ANA, BEN, StartBot, bot_starter, free_port
from tests.fakes.engine import ScriptedEngine


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


# -- commands ------------------------------------------------------------------------------


async def test_commands_are_the_menu_in_english_and_spanish(start_bot: StartBot) -> None:
    bot = await start_bot(TERTULIA_ADMINS=f"telegram:{ANA},discord:5")
    public = [c for c in REGISTRY.values() if not c.admin_only]
    english, spanish = bot.api.commands_for(), bot.api.commands_for("es")
    assert [c["command"] for c in english] == [c.name for c in public]
    assert [c["description"] for c in english] == [c.description["en"] for c in public]
    assert [c["description"] for c in spanish] == [c.description["es"] for c in public]
    assert "stats" not in [c["command"] for c in english]
    # The admin also gets the admin-only commands, in their own chat, in both languages.
    for lang in ("", "es"):
        admin = bot.api.commands_for(lang, scope={"type": "chat", "chat_id": ANA})
        assert [c["command"] for c in admin] == list(REGISTRY)
    assert len(bot.api.commands) == 4  # no menu for the Discord admin


async def test_commands_arrive_structured_with_their_arguments(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(ANA, ANA, "/start", language_code="es", first_name="Ana")
    bot.api.push_text(ANA, ANA, "/persona   tutor ")
    bot.api.push_text(ANA, ANA, "/lang@tertulia_bot es")
    bot.api.push_text(ANA, ANA, "/nonsense with args")  # not in the menu: still a command
    bot.api.push_text(BEN, BEN, "/START", language_code="en-GB", first_name="Ben")
    await bot.answered(ANA, 4)
    await bot.answered(BEN)
    calls = {(m.key.user_id, m.text): m.command for m in bot.engine.messages}
    assert calls == {
        (str(ANA), "/start"): CommandCall("start"),
        (str(ANA), "/persona   tutor "): CommandCall("persona", "tutor"),
        (str(ANA), "/lang@tertulia_bot es"): CommandCall("lang", "es"),
        (str(ANA), "/nonsense with args"): CommandCall("nonsense", "with args"),
        (str(BEN), "/START"): CommandCall("start"),
    }
    ana = bot.engine.messages[0]
    assert (ana.language, ana.display_name, ana.is_direct) == ("es", "Ana", True)
    # A command is answered at once: no "typing" (the engine never accepted it as a question).
    assert bot.api.calls_of("sendChatAction") == []


async def test_a_slash_inside_a_sentence_is_not_a_command(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(ANA, ANA, "what does /start do?")
    await bot.answered(ANA)
    [handed] = bot.engine.messages
    assert (handed.text, handed.command) == ("what does /start do?", None)


# -- media -----------------------------------------------------------------------------------


async def test_a_photo_is_handed_over_to_be_fetched_as_its_largest_size(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine("A cat."))
    bot.api.push_photo(ANA, ANA, b"\xff\xd8 big jpeg", caption="what is this?")
    assert await bot.answered(ANA) == ["A cat."]
    [handed] = bot.engine.messages
    assert handed.text == "what is this?" and handed.unsupported is None
    [image] = handed.images
    assert isinstance(image, RemoteImage)  # fetched in the person's line, after "typing"
    assert bot.engine.fetched == [(Image(b"\xff\xd8 big jpeg", "image/jpeg"),)]
    downloads = [p["file_id"] for p in bot.api.calls_of("getFile")]
    assert downloads == ["file2"]  # the large size, not the thumbnail


async def test_an_image_sent_as_a_file_is_handed_over_with_its_type(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("A chart."))
    fid = bot.api.add_file(b"\x89PNG chart", "documents/chart.png")
    doc = {"file_id": fid, "file_unique_id": "u1", "file_name": "chart.png",
           "mime_type": "image/png", "file_size": 11}  # fmt: skip
    bot.api.push_message(ANA, ANA, document=doc, caption="explain")
    assert await bot.answered(ANA) == ["A chart."]
    [handed] = bot.engine.messages
    assert (handed.text, handed.unsupported) == ("explain", None)
    assert bot.engine.fetched == [(Image(b"\x89PNG chart", "image/png"),)]


async def test_a_photo_too_large_to_read_is_unsupported_and_never_downloaded(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    huge = {"file_id": "huge", "file_unique_id": "hu", "width": 9000, "height": 9000,
            "file_size": 30 * 1024 * 1024}  # fmt: skip
    bot.api.push_message(ANA, ANA, photo=[huge], caption="read this")
    await bot.answered(ANA)
    [handed] = bot.engine.messages
    assert (handed.images, handed.unsupported) == ((), MediaKind.PHOTO)
    assert handed.text == "read this"
    assert bot.api.calls_of("getFile") == []


async def test_a_photo_that_cannot_be_downloaded_is_fetched_as_nothing(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    gone = {"file_id": "gone", "file_unique_id": "gu", "width": 90, "height": 90}
    bot.api.push_message(ANA, ANA, photo=[gone])
    await bot.answered(ANA)
    assert bot.engine.fetched == [(None,)]  # the engine words that (image_unreadable)


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("sticker", None, MediaKind.STICKER),
        ("voice", None, MediaKind.VOICE),
        ("video", None, MediaKind.VIDEO),
        ("audio", None, MediaKind.AUDIO),
        ("document", None, MediaKind.DOCUMENT),  # a PDF, not an image
        ("location", {"location": {"latitude": 40.4, "longitude": -3.7}}, MediaKind.LOCATION),
        ("dice", {"dice": {"emoji": "🎲", "value": 4}}, MediaKind.DICE),
        ("unknown", {"paid_media": {"star_count": 5, "paid_media": []}}, MediaKind.MESSAGE),
    ],
)
async def test_other_media_is_handed_over_as_its_kind(
    start_bot: StartBot, kind: str, fields: dict[str, Any] | None, expected: MediaKind
) -> None:
    bot = await start_bot()
    if fields is None:
        bot.api.push_media(ANA, ANA, kind)
    else:
        bot.api.push_message(ANA, ANA, **fields)
    await bot.answered(ANA)
    [handed] = bot.engine.messages
    assert (handed.unsupported, handed.images, handed.text) == (expected, (), "")
    assert bot.api.calls_of("getFile") == []


# -- who is answered -------------------------------------------------------------------------


async def test_a_redelivered_message_is_answered_once(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(lambda m: f"re: {m.text}"))
    first = bot.api.push_text(ANA, ANA, "only once")
    await bot.answered(ANA)
    bot.api.push_update({"message": first})  # same chat and message id, new update id
    bot.api.push_text(ANA, ANA, "next")
    assert await bot.answered(ANA, 2) == ["re: only once", "re: next"]
    assert [m.text for m in bot.engine.messages] == ["only once", "next"]
    assert len(bot.api.calls_of("sendMessage")) == 2  # no second reply, no notice


async def test_messages_from_bots_are_ignored(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.api.push_text(ANA, ANA, "I am a bot", is_bot=True)
    bot.api.push_text(BEN, BEN, "I am not")
    await bot.answered(BEN)
    assert [m.text for m in bot.engine.messages] == ["I am not"]
    assert bot.api.bot_messages(ANA) == [] and bot.api.calls_of("sendChatAction", ANA) == []


async def test_nothing_to_answer_sends_nothing(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(()))  # what the engine yields for "   "
    bot.api.push_text(ANA, ANA, "   \n  ")
    await bot.api.wait_for(lambda: bot.engine.messages)
    await bot.settled()
    assert [m for m, p in bot.api.calls if p.get("chat_id") == ANA] == []


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
    assert bot.api.webhook["allowed_updates"] == ["message", "callback_query"]
    assert bot.api.calls_of("getUpdates") == []
    message = bot.api.make_message(ANA, ANA, text="via webhook")
    assert await bot.api.post_to_webhook({"message": message}, secret="wrong") == 403
    assert await bot.api.post_to_webhook({"message": message}, secret="") == 403
    assert bot.engine.messages == []
    assert await bot.api.post_to_webhook({"message": message}) == 200
    assert await bot.answered(ANA) == ["Hello! How can I help?"]
    assert [m.text for m in bot.engine.messages] == ["via webhook"]
