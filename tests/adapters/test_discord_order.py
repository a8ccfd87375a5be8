"""The Discord adapter keeps each person's messages in order, never answers with silence,
and gets the final text through whatever Discord pushes back with."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from adapters.discord.surface import TYPING_EVERY
from adapters.session import Session
from bot.i18n import t
from bot.types import Image, IncomingMessage
from tests.adapters.discord_harness import (
    adapter,
    answered,
    discord_settings,
    reply_to,
    running_bot,
    until,
)
from tests.delivery.surfaces import Clock
from tests.fakes.discord_api import SEND_MESSAGES, FakeDiscord
from tests.fakes.engine import ScriptedEngine

CHANNEL = 901
DEADLINE = 5.0  # the delivery deadline the harness gives each reply


async def test_image_then_quick_text_reach_the_engine_in_the_order_sent(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    fake.attachment_delay = 0.3  # the text arrives while the image is still downloading
    engine = ScriptedEngine(lambda msg: f"{msg.text} after {len(engine.fetched)} downloads")
    async with adapter(engine, fake, tmp_path):
        image = fake.attachment(png, "cat.png", "image/png")
        first = await fake.dm(20, "what is this?", attachments=(image,))
        second = await fake.dm(20, "and is it cute?")
        one = await fake.wait_for(reply_to(fake, first))
        two = await fake.wait_for(reply_to(fake, second))
    assert [m.text for m in engine.messages] == ["what is this?", "and is it cute?"]
    assert engine.fetched[0] == (Image(png, "image/png"),)
    # The text waited for the image's download and answer: its turn came second.
    assert two.content == "and is it cute? after 1 downloads"
    assert one.id < two.id


async def test_slash_waits_its_turn_but_is_acknowledged_at_once(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("Thinking done.", chunk=8)
    engine.gate = asyncio.Event()
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(21, "a long question")
        first = await fake.wait_for(reply_to(fake, mid))
        ask = await fake.slash("ask", {"prompt": "a follow-up"}, user_id=21, channel_id=5021)
        # Deferred while the first reply still streams: Discord's 3 s are not spent waiting.
        await fake.wait_for(lambda: ask.callback_type == 5)
        assert len(engine.messages) == 1
        engine.gate.set()
        await fake.wait_for(lambda: first.content == "Thinking done.")
        second = await fake.wait_for(answered(fake, ask))
        await fake.wait_for(lambda: second.content == "Thinking done.")
    assert [m.text for m in engine.messages] == ["a long question", "a follow-up"]
    assert engine.messages[0].key == engine.messages[1].key


def broken(msg: IncomingMessage) -> str:
    raise RuntimeError("a bug")


async def test_a_reply_that_breaks_is_answered_with_the_localised_notice(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(broken)
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(23, "hello?")
        answer = await fake.wait_for(reply_to(fake, mid))
        ask = await fake.slash("ask", {"prompt": "hola"}, user_id=24, locale="es-ES")
        spanish = await fake.wait_for(answered(fake, ask))
    assert answer.content == t("internal_error", "en")
    assert spanish.content == t("internal_error", "es")  # not "thinking…" deleted


@pytest.mark.parametrize("via", [False, True], ids=["no-via", "via"])
async def test_a_final_edit_refused_by_a_long_rate_limit_is_still_delivered(
    fake: FakeDiscord, tmp_path: Path, via: bool
) -> None:
    text = "Hello, this is the whole answer."
    # Five refusals in a row. Without a Via header discord.py raises each at once; with
    # one it waits out all five itself, then raises: delivery waits and tries again.
    limited = fake.fail(
        "PATCH",
        r"/channels/\d+/messages/\d+",
        429,
        times=5,
        retry_after=0.3,
        via=via,
        when=lambda body: body.get("content") == text,
    )
    engine = ScriptedEngine(text, chunk=5)
    async with adapter(engine, fake, tmp_path) as bot:
        mid = await fake.dm(30, "hi")
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content == text, timeout=DEADLINE)
        await until(lambda: bot.session.busy == 0)
    assert limited.hits == 5
    assert answer.history == ["Hello", text]
    assert engine.undelivered_refs == []


async def test_a_rate_limit_longer_than_discord_py_will_sleep_is_waited_out(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    text = "Hello, this is the whole answer."
    # One 429 asking for 31 s: past discord.py's 30 s, so it raises instead of sleeping.
    limited = fake.fail(
        "PATCH",
        r"/channels/\d+/messages/\d+",
        429,
        retry_after=31.0,
        via=True,
        when=lambda body: body.get("content") == text,
    )
    clock = Clock()  # delivery's waits move this clock, not the test's wall time
    settings = discord_settings(fake, tmp_path)
    session = Session(ScriptedEngine(text, chunk=5), clock.policy(interval=1000, deadline=120))
    async with running_bot(session, settings):
        mid = await fake.dm(32, "hi")
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content == text)
    assert limited.hits == 1
    assert 31.0 in clock.sleeps
    assert answer.history[-1] == text


async def test_a_deleted_channel_is_gone_at_once_even_while_editing(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    gone = fake.fail(
        "PATCH", r"/channels/\d+/messages/\d+", 404, code=10003, message="Unknown Channel"
    )
    engine = ScriptedEngine("a first piece, then the rest of it", chunk=8)
    engine.gate = asyncio.Event()
    async with adapter(engine, fake, tmp_path) as bot:
        mid = await fake.dm(33, "hi")
        await fake.wait_for(reply_to(fake, mid))
        engine.gate.set()
        await until(lambda: bot.session.busy == 0)
    assert gone.hits == 1  # no retries, no new message posted instead of the edit
    assert len(fake.calls_to("POST", r"/channels/\d+/messages")) == 1


async def test_typing_is_one_trigger_never_cancelled_and_never_stalls_the_channel(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    fake.typing_hold = 0.5  # Discord is slow to acknowledge "typing"; the text is not
    engine = ScriptedEngine("right away")
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(31, "first")
        await fake.wait_for(lambda: fake.typing_requests and reply_to(fake, mid)())
        # The reply did not wait for "typing": that request is still open.
        assert [r.finished for r in fake.typing_requests] == [None]
        # The next message in the channel, while that request is still open.
        after = await fake.dm(31, "second")
        # Well under discord.py's 30 s fallback for a bucket left empty.
        await fake.wait_for(reply_to(fake, after), timeout=10)
        # The second reply's trigger, if any, waits in discord.py's bucket behind the first.
        await fake.wait_for(lambda: fake.typing_requests[0].finished, timeout=2)
        await asyncio.sleep(0.2)
        await fake.wait_for(lambda: all(r.finished for r in fake.typing_requests), timeout=2)
    assert all(r.completed for r in fake.typing_requests)  # none aborted by the client
    assert 1 <= fake.typing[5031] <= 2  # at most one trigger per reply: each shows ~10 s
    assert TYPING_EVERY == 8.0


async def test_a_channel_that_refuses_the_bot_gets_no_retries_and_no_calls_for_what_waited(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    # 50013 Missing Permissions, until the bot is given the permission back.
    refused = fake.fail(
        "POST",
        rf"/channels/{CHANNEL}/messages",
        403,
        code=50013,
        message="Missing Permissions",
        times=None,
    )
    # Blank first: nothing is posted until the gate opens, so the next messages queue up.
    engine = ScriptedEngine(" " * 16 + "an answer nobody sees")
    engine.gate = asyncio.Event()
    async with adapter(engine, fake, tmp_path) as bot:
        await fake.guild_message(8, CHANNEL, "<@1001> one", mention=True)
        await fake.wait_for(lambda: fake.typing.get(CHANNEL))
        for text in ("two", "three"):
            await fake.guild_message(8, CHANNEL, f"<@1001> {text}", mention=True)
        await until(lambda: bot.session.busy == 3)
        calls = len(fake.calls)
        engine.gate.set()
        await until(lambda: bot.session.busy == 0)
        to_channel = [c for c in fake.calls[calls:] if c[1].startswith(f"/channels/{CHANNEL}/")]

        fake.failures.clear()  # allowed again; a new message brings the channel back
        back = await fake.guild_message(8, CHANNEL, "<@1001> four", mention=True)
        await fake.wait_for(reply_to(fake, back))
        await fake.wait_for(lambda: fake.typing[CHANNEL] == 2)  # "one" and "four" only
    assert refused.hits == 1  # no retries
    assert [c[:2] for c in to_channel] == [("POST", f"/channels/{CHANNEL}/messages")]
    # "two" and "three" were handed over but closed before the model was asked.
    assert [m.text for m in engine.messages] == ["one", "two", "three", "four"]
    assert len(engine.fetched) == 2


async def test_a_channel_where_the_bot_may_not_write_costs_no_model_call(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord.client")
    engine = ScriptedEngine(lambda msg: f"re: {msg.text}")
    async with adapter(engine, fake, tmp_path):
        await fake.set_channel_permissions(CHANNEL, deny=SEND_MESSAGES)
        await fake.guild_message(8, CHANNEL, "<@1001> one", mention=True)
        # on_message runs as its own task: wait until it has turned "one" away.
        await until(lambda: "no permission to write" in caplog.text)
        await fake.set_channel_permissions(CHANNEL)
        back = await fake.guild_message(8, CHANNEL, "<@1001> two", mention=True)
        answer = await fake.wait_for(reply_to(fake, back))
    assert [m.text for m in engine.messages] == ["two"]  # "one" never reached the engine
    assert answer.content == "re: two"
    assert len(fake.calls_to("POST", rf"/channels/{CHANNEL}/messages")) == 1
