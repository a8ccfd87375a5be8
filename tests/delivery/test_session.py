"""The session with the engine faked at its port: order, greeting, notices, gone chats, drain."""

from __future__ import annotations

import asyncio

from adapters.delivery import ChatGone, Policy, RateLimited, Rejected
from adapters.session import Session
from bot.i18n import t
from bot.types import (
    CommandCall,
    ConversationKey,
    Image,
    IncomingMessage,
    RemoteImage,
)
from tests.delivery.surfaces import Clock, RecordingSurface
from tests.fakes.engine import ScriptedEngine

KEY = ConversationKey("test", "ana", "chat")


def message(text: str = "hi", **kw: object) -> IncomingMessage:
    return IncomingMessage(KEY, text, **kw)  # type: ignore[arg-type]


def session(engine: ScriptedEngine, clock: Clock, grace: float = 5.0) -> Session:
    return Session(engine, clock.policy(interval=0), grace=grace, clock=clock)


async def test_the_place_in_line_is_taken_before_a_slow_download() -> None:
    clock = Clock()
    engine = ScriptedEngine(lambda m: f"re: {m.text}")
    s = session(engine, clock)

    async def slow() -> Image:
        await asyncio.sleep(0.05)
        return Image(b"jpeg")

    first = asyncio.create_task(
        s.handle(message("photo", images=(RemoteImage(slow),)), RecordingSurface(clock))
    )
    second = asyncio.create_task(s.handle(message("quick"), RecordingSurface(clock)))
    await asyncio.gather(first, second)
    assert [m.text for m in engine.messages] == ["photo", "quick"]
    assert engine.fetched[0] == (Image(b"jpeg"),)


async def test_a_bare_mention_in_a_group_is_a_greeting() -> None:
    clock = Clock()
    engine = ScriptedEngine("Hi!")
    s = session(engine, clock)
    await s.handle(message("", is_direct=False), RecordingSurface(clock))
    await s.handle(message("  ", is_direct=True), RecordingSurface(clock))
    assert [m.command for m in engine.messages] == [CommandCall("start"), None]


async def test_a_reply_that_cannot_be_delivered_is_settled_and_a_notice_sent() -> None:
    clock = Clock()
    engine = ScriptedEngine("an answer")
    engine.chosen_lang[KEY] = "es"  # the person chose Spanish with /lang
    s = session(engine, clock)
    surface = RecordingSurface(clock)
    surface.fail("send", Rejected("message is too long"), when=lambda text: text == "an answer")
    surface.fail("send", Rejected("message is too long"), when=lambda text: text == "an answer")
    result = await s.handle(message(language="en"), surface)
    assert result is not None and not result.delivered
    assert result.done is not None and engine.undelivered_refs == [result.done.ref]
    assert list(surface.messages.values()) == [t("internal_error", "es")]


async def test_no_notice_for_a_repeat() -> None:
    clock = Clock()
    engine = ScriptedEngine("once")
    s = session(engine, clock)
    await s.handle(message(message_id="7"), RecordingSurface(clock))
    again = RecordingSurface(clock)
    await s.handle(message(message_id="7"), again)
    assert again.calls == [] and engine.undelivered_refs == []


async def test_a_chat_that_refused_the_bot_gets_no_model_call_for_what_was_waiting() -> None:
    clock = Clock()
    engine = ScriptedEngine(lambda m: f"re: {m.text}")
    engine.gate = asyncio.Event()
    s = session(engine, clock)
    blocked = RecordingSurface(clock)
    blocked.fail("send", ChatGone("Forbidden: bot was blocked by the user"))
    first = asyncio.create_task(s.handle(message("one"), blocked))
    await asyncio.sleep(0.01)
    waiting = RecordingSurface(clock)
    second = asyncio.create_task(s.handle(message("two"), waiting))  # queued behind "one"
    await asyncio.sleep(0.01)
    clock.now += 1
    engine.gate.set()
    await asyncio.gather(first, second)
    assert waiting.calls == []  # never tried: the chat is gone
    assert len(blocked.writes()) == 1  # and no retries after the refusal
    # It writes again later (unblocked the bot): answered as usual.
    clock.now += 1
    back = RecordingSurface(clock)
    engine.gate = None
    await s.handle(message("three"), back)
    assert list(back.messages.values()) == ["re: three"]


async def test_drain_lets_replies_in_flight_finish_and_still_takes_new_ones() -> None:
    clock = Clock()
    engine = ScriptedEngine("a long answer", chunk=4)
    engine.gate = asyncio.Event()
    s = session(engine, clock)
    surface = RecordingSurface(clock)
    running = asyncio.create_task(s.handle(message("go"), surface))
    await asyncio.sleep(0.01)
    draining = asyncio.create_task(s.drain())
    await asyncio.sleep(0.01)
    late = RecordingSurface(clock)
    other = ConversationKey("test", "ben", "chat")
    arriving = asyncio.create_task(s.handle(IncomingMessage(other, "late"), late))
    engine.gate.set()
    await asyncio.wait_for(draining, 2)
    assert running.done() and arriving.done()
    assert list(surface.messages.values()) == ["a long answer"]
    assert list(late.messages.values()) == ["a long answer"]
    assert await s.handle(message("after"), RecordingSurface(clock)) is None  # closed now


async def test_drain_cancels_what_outlasts_the_grace_period() -> None:
    clock = Clock()
    engine = ScriptedEngine("never finishes")
    engine.gate = asyncio.Event()  # never set
    s = session(engine, clock, grace=0.05)
    running = asyncio.create_task(s.handle(message("go"), RecordingSurface(clock)))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(s.drain(), 2)
    assert running.cancelled() and s.busy == 0


async def test_a_reply_cut_off_by_the_drain_is_recorded_as_never_seen() -> None:
    # The platform keeps refusing the final text when the grace period runs out: the
    # stored reply must not count as said (no real clock asserted; the drain cancels it).
    engine = ScriptedEngine("an answer the platform never took")
    surface = RecordingSurface(Clock())
    for _ in range(1000):
        surface.fail("send", RateLimited(0.01))
    s = Session(engine, Policy(interval=0, deadline=600), grace=0.1)
    running = asyncio.create_task(s.handle(message("go"), surface))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(s.drain(), 5)
    assert running.cancelled()
    assert surface.messages == {}
    assert len(engine.undelivered_refs) == 1
    assert engine.undelivered_refs[0].reply_id is not None


async def test_only_a_reply_the_platform_took_is_handed_on_as_delivered() -> None:
    clock = Clock()
    engine = ScriptedEngine("an answer")
    s = session(engine, clock)
    result = await s.handle(message(message_id="1"), RecordingSurface(clock))
    assert result is not None and result.done is not None
    assert engine.delivered_refs == [result.done.ref]
    refused = RecordingSurface(clock)
    refused.fail("send", Rejected("message is too long"), when=lambda text: text == "an answer")
    refused.fail("send", Rejected("message is too long"), when=lambda text: text == "an answer")
    await s.handle(message(message_id="2"), refused)
    assert len(engine.delivered_refs) == 1 and len(engine.undelivered_refs) == 1
