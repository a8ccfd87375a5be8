"""👍 👎 ↻ under Telegram answers: the real python-telegram-bot against the fake Bot API.

Button presses arrive as callback queries; each is answered at once, the keyboard shows
the choice, and ↻ streams a new answer into a new message.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.runtime import personas
from bot.engine import Engine
from bot.i18n import t
from bot.types import CommandCall
from storage.sqlite import SqliteStore
from tests.adapters.telegram_harness import ANA, BEN, GROUP, StartBot, bot_starter
from tests.fakes.engine import ScriptedEngine
from tests.fakes.model import FakeModel
from tests.fakes.telegram_callbacks import data_of, labels


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


async def test_an_answer_carries_the_three_buttons_naming_its_stored_reply(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine("Madrid."))
    bot.api.push_text(ANA, ANA, "¿Capital de España?")
    await bot.answered(ANA)
    [answer] = bot.api.bot_messages(ANA)
    assert labels(answer.reply_markup) == ["👍", "👎", "↻"]
    reply_id = next(iter(bot.engine.askers))
    assert data_of(answer.reply_markup) == [f"fb:{a}:{reply_id}" for a in ("up", "down", "redo")]


async def test_a_command_answer_has_no_buttons(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Commands: /help"))
    bot.api.push_text(ANA, ANA, "/help")
    await bot.answered(ANA)
    assert bot.api.bot_messages(ANA)[0].reply_markup is None


async def test_a_thumbs_up_is_answered_at_once_stored_and_shown(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Madrid."))
    bot.api.push_text(ANA, ANA, "¿Capital?", language_code="es")
    await bot.answered(ANA)
    [answer] = bot.api.bot_messages(ANA)
    reply_id = next(iter(bot.engine.askers))
    query = bot.api.press(ANA, ANA, answer.message_id, f"fb:up:{reply_id}", language_code="es")
    await bot.api.wait_for(lambda: query in bot.api.answered)
    await bot.api.wait_for(lambda: "👍 ✓" in labels(answer.reply_markup))
    assert bot.api.answered[query]["text"] == t("rated_up", "es")
    assert bot.engine.ratings == [(str(ANA), reply_id, 1, "")]
    # Changed to a thumbs down: the keyboard follows, the line says how to give a reason.
    query = bot.api.press(ANA, ANA, answer.message_id, f"fb:down:{reply_id}", language_code="es")
    await bot.api.wait_for(lambda: "👎 ✓" in labels(answer.reply_markup))
    assert bot.api.answered[query]["text"] == t("rated_down", "es")
    assert labels(answer.reply_markup) == ["👍", "👎 ✓", "↻"]
    assert bot.engine.ratings[-1] == (str(ANA), reply_id, -1, "")


async def test_someone_else_pressing_in_a_group_is_told_and_nothing_changes(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine("Hola a todos."))
    bot.api.push_text(GROUP, ANA, "@tertulia_bot hola")
    await bot.answered(GROUP)
    [answer] = bot.api.bot_messages(GROUP)
    reply_id = next(iter(bot.engine.askers))
    query = bot.api.press(GROUP, BEN, answer.message_id, f"fb:up:{reply_id}", first_name="Ben")
    await bot.api.wait_for(lambda: query in bot.api.answered)
    await bot.settled()
    assert bot.api.answered[query]["text"] == t("rate_not_yours", "en")
    assert bot.engine.ratings == [] and labels(answer.reply_markup) == ["👍", "👎", "↻"]
    assert not bot.api.calls_of("editMessageReplyMarkup")


async def test_regenerate_streams_a_new_answer_quoting_the_old_one(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Una respuesta."))
    bot.api.push_text(GROUP, ANA, "@tertulia_bot dime algo")
    await bot.answered(GROUP)
    [old] = bot.api.bot_messages(GROUP)
    reply_id = next(iter(bot.engine.askers))
    query = bot.api.press(GROUP, ANA, old.message_id, f"fb:redo:{reply_id}")
    await bot.answered(GROUP, 2)
    assert query in bot.api.answered and "text" not in bot.api.answered[query]
    handed = bot.engine.messages[-1]
    assert handed.command == CommandCall("retry", str(reply_id))
    assert handed.message_id == f"callback:{query}" and not handed.is_direct
    new = bot.api.bot_messages(GROUP)[-1]
    assert new.reply_to == old.message_id and labels(new.reply_markup) == ["👍", "👎", "↻"]
    assert data_of(new.reply_markup)[0] != data_of(old.reply_markup)[0]  # its own reply id


async def test_a_foreign_or_stale_button_only_stops_the_spinner(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Hola."))
    bot.api.push_text(ANA, ANA, "hola")
    await bot.answered(ANA)
    [answer] = bot.api.bot_messages(ANA)
    foreign = bot.api.press(ANA, ANA, answer.message_id, "something:else")
    unknown = bot.api.press(ANA, ANA, answer.message_id, "fb:up:99999")
    await bot.api.wait_for(lambda: {foreign, unknown} <= set(bot.api.answered))
    await bot.settled()
    assert "text" not in bot.api.answered[foreign]
    assert bot.api.answered[unknown]["text"] == t("rate_gone", "en")
    assert bot.engine.ratings == [] and len(bot.api.bot_messages(ANA)) == 1


async def test_end_to_end_on_the_real_engine_rating_and_regenerating(
    start_bot: StartBot, tmp_path: Path
) -> None:
    model = FakeModel()
    model.queue += ["Es azul.", "Es azul celeste."]
    db = tmp_path / "tertulia.db"
    async with SqliteStore(db) as store:
        engine = Engine(store, model, personas=personas())
        bot = await start_bot(engine)
        bot.api.push_text(ANA, ANA, "¿De qué color es el cielo?", language_code="es")
        await bot.answered(ANA)
        [first] = bot.api.bot_messages(ANA)
        up, down, redo = data_of(first.reply_markup)
        query = bot.api.press(ANA, ANA, first.message_id, down, language_code="es")
        await bot.api.wait_for(lambda: "👎 ✓" in labels(first.reply_markup))
        assert bot.api.answered[query]["text"] == t("rated_down", "es")
        bot.api.press(ANA, ANA, first.message_id, redo, language_code="es")
        await bot.answered(ANA, 2)
        second = bot.api.bot_messages(ANA)[-1]
        assert second.text == "Es azul celeste." and labels(second.reply_markup)[0] == "👍"
        # Pressing ↻ on the replaced answer: only the newest can be regenerated, and the
        # presser alone is told so.
        query = bot.api.press(ANA, ANA, first.message_id, redo, language_code="es")
        await bot.api.wait_for(lambda: query in bot.api.answered)
        await bot.settled()
        assert bot.api.answered[query]["text"] == t("retry_not_latest", "es")
        assert len(bot.api.bot_messages(ANA)) == 2
    with sqlite3.connect(db) as raw:
        stored = raw.execute(
            "SELECT text, outcome, rating FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    assert stored == [("Es azul.", "superseded", -1), ("Es azul celeste.", "ok", None)]
    assert up.startswith("fb:up:")


async def test_someone_elses_regenerate_is_a_toast_and_nothing_is_posted(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine("Hola a todos."))
    bot.api.push_text(GROUP, ANA, "@tertulia_bot hola")
    await bot.answered(GROUP)
    [answer] = bot.api.bot_messages(GROUP)
    reply_id = next(iter(bot.engine.askers))
    query = bot.api.press(GROUP, BEN, answer.message_id, f"fb:redo:{reply_id}", first_name="Ben")
    await bot.api.wait_for(lambda: query in bot.api.answered)
    await bot.settled()
    assert bot.api.answered[query]["text"] == t("rate_not_yours", "en")
    assert len(bot.api.bot_messages(GROUP)) == 1 and len(bot.engine.messages) == 1


async def test_quick_presses_leave_the_keyboard_showing_what_is_stored(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine("Madrid."))
    bot.api.push_text(ANA, ANA, "¿Capital?")
    await bot.answered(ANA)
    [answer] = bot.api.bot_messages(ANA)
    reply_id = next(iter(bot.engine.askers))
    pressed = [
        bot.api.press(ANA, ANA, answer.message_id, f"fb:{a}:{reply_id}")
        for a in ("up", "down", "up", "down", "up")
    ]
    await bot.api.wait_for(lambda: set(pressed) <= set(bot.api.answered))
    await bot.settled()
    last = bot.engine.ratings[-1][2]
    assert len(bot.engine.ratings) == 5
    assert labels(answer.reply_markup)[:2] == (["👍 ✓", "👎"] if last == 1 else ["👍", "👎 ✓"])
    # Every press was answered, and promptly (the fake records how long each waited).
    assert all(bot.api.answered[q]["after"] < 3.0 for q in pressed)
