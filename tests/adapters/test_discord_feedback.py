"""The buttons under Discord answers: real discord.py against the fake Discord's components.

The engine is faked at its port (ScriptedEngine records ratings); what a rating does to
the store is tested in tests/engine/. Here: what Discord got, and what the engine was handed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.discord.convert import Action, Press, feedback_press, submitted_value
from bot.i18n import t
from bot.types import CommandCall, IncomingMessage
from tests.adapters.discord_harness import adapter, answered, key, reply_to, until
from tests.fakes.discord_api import FakeDiscord, FakeInteraction, FakeMessage
from tests.fakes.discord_records import EPHEMERAL
from tests.fakes.engine import ScriptedEngine

CHANNEL = 901
GREY, GREEN, RED = 2, 3, 4  # Discord's button styles: secondary, success, danger


def emojis(msg: FakeMessage) -> list[str]:
    return [b["emoji"]["name"] for b in msg.buttons()]


def styles(msg: FakeMessage) -> list[int]:
    return [b["style"] for b in msg.buttons()]


def button(msg: FakeMessage, emoji: str) -> str:
    """The custom_id of the message's `emoji` button."""
    return str(next(b["custom_id"] for b in msg.buttons() if b["emoji"]["name"] == emoji))


async def acknowledged(fake: FakeDiscord, inter: FakeInteraction) -> int:
    """The interaction's callback type, once the bot answered it, in Discord's 3 s."""
    kind: int = await fake.wait_for(lambda: inter.callback_type)
    assert inter.latency is not None and inter.latency < 3.0
    return kind


async def dm_answer(fake: FakeDiscord, user: int, text: str = "hi") -> FakeMessage:
    """The bot's answer to a DM from `user`, once it carries its buttons."""
    mid = await fake.dm(user, text)
    answer: FakeMessage = await fake.wait_for(reply_to(fake, mid))
    await fake.wait_for(lambda: answer.components)
    return answer


def only_reply(engine: ScriptedEngine) -> int:
    [reply_id] = engine.askers
    return reply_id


# -- the buttons -------------------------------------------------------------------


async def test_only_the_final_write_of_an_answer_s_last_page_carries_the_buttons(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("word " * 600, chunk=200)  # 3000 characters: two pages
    async with adapter(engine, fake, tmp_path) as bot:
        mid = await fake.dm(7, "a long one please")
        first = await fake.wait_for(reply_to(fake, mid))
        await until(lambda: bot.session.busy == 0)
        # Stopped views: discord.py keeps none of them (they would be persistent ones).
        assert bot.persistent_views == []
    first_page, last_page = fake.bot_messages()
    assert first_page is first and first.components == []
    reply_id = only_reply(engine)
    assert emojis(last_page) == ["👍", "👎", "↻"]
    assert styles(last_page) == [GREY, GREY, GREY]
    assert [b["custom_id"] for b in last_page.buttons()] == [
        f"tertulia:fb:up:{reply_id}:7",
        f"tertulia:fb:down:{reply_id}:7",
        f"tertulia:fb:redo:{reply_id}:7",
    ]
    writes = fake.calls_to("POST", r"/channels/5007/messages") + fake.calls_to(
        "PATCH", r"/channels/5007/messages/\d+"
    )
    with_buttons = [w for w in writes if w.get("components")]
    assert len(writes) > 2  # progress edits went out, none of them with buttons
    assert [w["content"] for w in with_buttons] == [last_page.content]


async def test_a_slash_command_s_answer_carries_the_buttons_too(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        ask = await fake.slash("ask", {"prompt": "hello"}, user_id=50)
        answer = await fake.wait_for(answered(fake, ask))
        await fake.wait_for(lambda: answer.components)
        press = await fake.press(answer.id, button(answer, "👍"), user_id=50)
        assert await acknowledged(fake, press) == 7
    assert button(answer, "↻") == f"tertulia:fb:redo:{only_reply(engine)}:50"
    assert engine.ratings == [("50", only_reply(engine), 1, "")]


# -- rating ------------------------------------------------------------------------


async def test_a_thumbs_up_by_the_asker_is_recorded_and_shown_and_can_be_taken_back(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path) as bot:
        answer = await dm_answer(fake, 7)
        up = await fake.press(answer.id, button(answer, "👍"), user_id=7)
        assert await acknowledged(fake, up) == 7  # UPDATE_MESSAGE: the buttons show it
        assert styles(answer) == [GREEN, GREY, GREY]
        assert answer.content == "an answer"  # the text is left as it was
        again = await fake.press(answer.id, button(answer, "👍"), user_id=7)
        assert await acknowledged(fake, again) == 7
        assert bot.persistent_views == []
    reply_id = only_reply(engine)
    assert engine.ratings == [("7", reply_id, 1, ""), ("7", reply_id, None, "")]
    assert styles(answer) == [GREY, GREY, GREY]
    assert "content" not in (up.callback or {})


async def test_a_rating_can_be_changed(fake: FakeDiscord, tmp_path: Path) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        answer = await dm_answer(fake, 7)
        for emoji in ("👍", "👎"):
            await acknowledged(fake, await fake.press(answer.id, button(answer, emoji), user_id=7))
    reply_id = only_reply(engine)
    assert engine.ratings == [("7", reply_id, 1, ""), ("7", reply_id, -1, "")]
    assert emojis(answer) == ["👍", "👎", "↻", "✍"]  # after a 👎: a way to say why
    assert styles(answer) == [GREY, RED, GREY, GREY]


@pytest.mark.parametrize(("locale", "lang"), [("en-US", "en"), ("es-ES", "es")])
async def test_someone_else_s_press_gets_a_private_not_yours(
    fake: FakeDiscord, tmp_path: Path, locale: str, lang: str
) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        mid = await fake.guild_message(8, CHANNEL, "<@1001> hello", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.components)
        presses = [
            await fake.press(answer.id, button(answer, e), user_id=9, locale=locale)
            for e in ("👍", "👎")
        ]
        for press in presses:
            assert await acknowledged(fake, press) == 4  # a message of its own...
            assert press.ephemeral  # ...that only the presser sees
            line = fake.messages[press.original_id or 0]
            assert (line.content, line.flags & EPHEMERAL) == (t("rate_not_yours", lang), EPHEMERAL)
    assert engine.ratings == []
    assert styles(answer) == [GREY, GREY, GREY]


# -- the reason after a thumbs down ----------------------------------------------------


async def test_a_thumbs_down_then_its_form_records_the_reason(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        answer = await dm_answer(fake, 7)
        down = await fake.press(answer.id, button(answer, "👎"), user_id=7, locale="es-ES")
        assert await acknowledged(fake, down) == 7
        why = await fake.press(answer.id, button(answer, "✍"), user_id=7, locale="es-ES")
        assert await acknowledged(fake, why) == 9  # MODAL
        form: dict[str, Any] = why.modal or {}
        [[field]] = [row["components"] for row in form["components"]]
        sent = await fake.submit(why, {field["custom_id"]: "demasiado vago"}, locale="es-ES")
        assert await acknowledged(fake, sent) == 4
    reply_id = only_reply(engine)
    assert form["title"] == t("reason_title", "es")
    assert (field["type"], field["label"]) == (4, t("reason_label", "es"))
    assert (field["style"], field["max_length"], field.get("required")) == (1, 500, False)
    assert engine.ratings[-1] == ("7", reply_id, -1, "demasiado vago")
    assert {r[2] for r in engine.ratings} == {-1}  # opening the form kept the 👎
    thanks = fake.messages[sent.original_id or 0]
    assert (thanks.content, sent.ephemeral) == (t("rated_down_reason", "es"), True)
    assert styles(answer) == [GREY, RED, GREY, GREY]


async def test_an_empty_reason_keeps_the_thumbs_down_quietly(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        answer = await dm_answer(fake, 7)
        await acknowledged(fake, await fake.press(answer.id, button(answer, "👎"), user_id=7))
        why = await fake.press(answer.id, button(answer, "✍"), user_id=7)
        assert await acknowledged(fake, why) == 9
        sent = await fake.submit(why, {})
        assert await acknowledged(fake, sent) == 7  # no line in the chat: the 👎 shows
    assert engine.ratings[-1] == ("7", only_reply(engine), -1, "")
    assert styles(answer) == [GREY, RED, GREY, GREY]


async def test_only_the_asker_gets_the_reason_form(fake: FakeDiscord, tmp_path: Path) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        mid = await fake.guild_message(8, CHANNEL, "<@1001> hello", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.components)
        await acknowledged(fake, await fake.press(answer.id, button(answer, "👎"), user_id=8))
        why = await fake.press(answer.id, button(answer, "✍"), user_id=9)
        assert await acknowledged(fake, why) == 4
    assert (why.modal, why.ephemeral) == (None, True)
    assert fake.messages[why.original_id or 0].content == t("rate_not_yours", "en")
    assert [r[0] for r in engine.ratings] == ["8"]


# -- regenerate --------------------------------------------------------------------


def first_then_again(msg: IncomingMessage) -> str:
    return "second try" if msg.command else "first answer"


async def test_redo_streams_a_new_answer_into_a_new_message(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(first_then_again)
    async with adapter(engine, fake, tmp_path):
        answer = await dm_answer(fake, 7)
        old_buttons = list(answer.components)
        [old_id] = engine.askers
        redo = await fake.press(answer.id, button(answer, "↻"), user_id=7)
        assert await acknowledged(fake, redo) == 5  # "thinking…": the new message
        new = await fake.wait_for(answered(fake, redo))
        await fake.wait_for(lambda: new.components)
    assert not redo.ephemeral and new.id != answer.id
    assert (new.history[0], new.content) == ("", "second try")  # "thinking…", then the text
    new_id = max(engine.askers)
    assert new_id != old_id
    assert button(new, "↻") == f"tertulia:fb:redo:{new_id}:7"
    assert (answer.content, answer.components) == ("first answer", old_buttons)
    msg = engine.messages[-1]
    assert msg.command == CommandCall("retry", str(old_id))
    assert (msg.key, msg.message_id, msg.is_direct) == (
        key(7, 5007),
        f"interaction:{redo.id}",
        True,
    )
    assert not msg.private


async def test_someone_else_s_redo_is_answered_only_to_them(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(first_then_again)
    async with adapter(engine, fake, tmp_path):
        mid = await fake.guild_message(8, CHANNEL, "<@1001> hello", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.components)
        redo = await fake.press(answer.id, button(answer, "↻"), user_id=9)
        # Checked before anything is stored: a line only the presser sees, at once.
        assert await acknowledged(fake, redo) == 4
        line = fake.messages[redo.original_id or 0]
    assert redo.ephemeral and line.flags & EPHEMERAL
    assert line.content == t("rate_not_yours", "en")
    assert len(engine.messages) == 1  # nothing handed to the engine


async def test_a_linked_identity_s_redo_is_answered_privately(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(first_then_again)
    engine.linked["9"] = "8"  # user 9 is the same person as 8 (/link)
    async with adapter(engine, fake, tmp_path):
        mid = await fake.guild_message(8, CHANNEL, "<@1001> hello", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.components)
        # Not the identity that asked: the new answer goes to the presser alone.
        first = await fake.press(answer.id, button(answer, "↻"), user_id=9)
        assert await acknowledged(fake, first) == 5
        private = await fake.wait_for(answered(fake, first))
        await fake.wait_for(lambda: private.components)
        assert private.flags & EPHEMERAL
        msg = engine.messages[-1]
        assert (msg.key, msg.private, msg.is_direct) == (key(9, CHANNEL), True, False)
        # ↻ on that private answer stays private too.
        redo = await fake.press(private.id, button(private, "↻"), user_id=9)
        assert await acknowledged(fake, redo) == 5
        new = await fake.wait_for(answered(fake, redo))
    assert redo.ephemeral and new.flags & EPHEMERAL
    assert engine.messages[-1].private


# -- what is not ours to rate ------------------------------------------------------


async def test_a_press_that_names_nothing_gets_the_gone_line_and_others_are_left_alone(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("an answer")
    async with adapter(engine, fake, tmp_path):
        answer = await dm_answer(fake, 7)
        foreign = await fake.press(answer.id, "another-bot:vote:1", user_id=7)
        garbage = [
            await fake.press(answer.id, custom_id, user_id=7, locale="es-419")
            for custom_id in (
                "tertulia:fb:up:notanumber:7",
                "tertulia:fb:launch:1:7",
                "tertulia:fb:reason:1:7",  # a form's id, pressed as a button
                "tertulia:fb:up:999:7",  # no such answer (erased): the engine says so
            )
        ]
        for press in garbage:
            assert await acknowledged(fake, press) == 4
            assert press.ephemeral
            assert fake.messages[press.original_id or 0].content == t("rate_gone", "es")
    assert foreign.callback_type is None
    assert engine.ratings == []
    assert styles(answer) == [GREY, GREY, GREY]


# -- custom_ids and forms, as plain values ----------------------------------------------


def test_a_custom_id_names_its_action_answer_and_asker_within_discord_s_100() -> None:
    longest = Press(Action.REASON, 2**63 - 1, 2**64 - 1)
    assert feedback_press(longest.custom_id) == longest
    assert len(longest.custom_id) <= 100
    assert feedback_press("tertulia:fb:up:12:34") == Press(Action.UP, 12, 34)
    for garbage in ("tertulia:fb:up:12", "tertulia:fb:nope:1:2", "tertulia:fb:up:-1:2", ""):
        assert feedback_press(garbage) is None


def test_a_submitted_reason_is_found_in_rows_or_labels() -> None:
    in_row = [{"type": 1, "components": [{"type": 4, "custom_id": "reason", "value": "meh"}]}]
    in_label = [{"type": 18, "component": {"type": 4, "custom_id": "reason", "value": "bah"}}]
    assert submitted_value(in_row, "reason") == "meh"
    assert submitted_value(in_label, "reason") == "bah"
    assert submitted_value(in_row, "other") is None
