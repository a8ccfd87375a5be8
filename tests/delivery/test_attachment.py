"""A reply's file (a person's /export): sent after the text, as persistently, or not delivered."""

from __future__ import annotations

from adapters.delivery import ChatGone, RateLimited, Rejected, Transient, deliver
from adapters.session import Session
from bot.i18n import t
from bot.types import (
    Attachment,
    ConversationKey,
    Done,
    IncomingMessage,
    Outcome,
    ReplyEvent,
    TurnRef,
)
from tests.delivery.surfaces import Clock, RecordingSurface, timed
from tests.fakes.engine import ScriptedEngine

# A command's answer: no feedback buttons (test_buttons.py has those).
REF = TurnRef(1, 1, 1)
FILE = Attachment("tertulia-export.json", b'{"conversations": []}')
DONE = Done(REF, Outcome.OK, attachment=FILE)


def kinds(surface: RecordingSurface) -> list[str]:
    return [c.kind for c in surface.writes()]


async def test_the_file_follows_the_final_text() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    steps: list[tuple[float, ReplyEvent]] = [(0.0, "Here is "), (0.0, "your data."), (0.0, DONE)]
    result = await deliver(timed(clock, *steps), surface, clock.policy(interval=0))
    assert result.delivered and result.attached and not result.broken
    assert surface.messages == {1: "Here is your data."} and surface.files == [FILE]
    assert kinds(surface)[-1] == "attach" and kinds(surface).count("attach") == 1
    assert surface.finished == [result]  # finished once the file is there


async def test_a_file_with_only_a_notice_goes_after_the_notice() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    done = Done(None, Outcome.OK, "Your data is attached.", FILE)
    result = await deliver(timed(clock, (0.0, done)), surface, clock.policy())
    assert result.delivered and result.attached
    assert kinds(surface) == ["send", "attach"]


async def test_no_file_no_attach_call() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    plain = Done(REF, Outcome.OK)
    result = await deliver(timed(clock, (0.0, "hi"), (0.0, plain)), surface, clock.policy())
    assert result.delivered and not result.attached and kinds(surface) == ["send"]


async def test_flood_control_on_the_file_is_waited_out() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    for _ in range(4):
        surface.fail("attach", RateLimited(30))
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, clock.policy())
    assert result.delivered and result.attached and surface.files == [FILE]
    assert clock.sleeps == [30, 30, 30, 30]
    assert surface.messages == {1: "data"}  # the text is not sent again


async def test_an_outage_while_uploading_is_ridden_out_with_backoff() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    for _ in range(200):
        surface.fail("attach", Transient("502 Bad Gateway"), when=lambda _: clock.now < 40)
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, clock.policy())
    assert result.delivered and result.attached and clock.now >= 40
    assert len(set(clock.sleeps)) > 1 and max(clock.sleeps) <= 15


async def test_a_file_that_cannot_go_before_the_deadline_leaves_the_reply_undelivered() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    for _ in range(500):
        surface.fail("attach", Transient("502 Bad Gateway"))
    policy = clock.policy(deadline=120)
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, policy)
    assert not result.delivered and not result.attached and result.broken
    assert surface.messages == {1: "data"} and surface.files == []
    assert 60 < clock.now <= 120


async def test_the_text_and_the_file_share_one_deadline() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("send", RateLimited(500), when=lambda text: text == "data")
    surface.fail("send", RateLimited(500), when=lambda text: text == "data")
    surface.fail("attach", RateLimited(200))  # alone it would fit in 600 s; after 500, no
    policy = clock.policy(deadline=600)
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, policy)
    assert surface.messages == {1: "data"} and not result.delivered and result.broken
    assert clock.sleeps == [500]  # the progress send's 429 is skipped; the final one waited


async def test_a_refused_file_is_not_retried_and_not_delivered() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("attach", Rejected("Request Entity Too Large"))
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, clock.policy())
    assert result.broken and not result.delivered and not result.attached
    assert kinds(surface) == ["send", "attach"] and clock.sleeps == []
    assert result.messages == [1]  # the text is there: no error notice is due


async def test_a_chat_gone_while_uploading_stops_at_once() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("attach", ChatGone("Forbidden: bot was blocked by the user"))
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, clock.policy())
    assert result.gone and not result.delivered and not result.attached
    assert kinds(surface) == ["send", "attach"] and clock.sleeps == []


async def test_a_file_never_goes_without_its_text() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("send", Rejected("message is too long"))
    surface.fail("send", Rejected("message is too long"))
    result = await deliver(timed(clock, (0.0, "data"), (0.0, DONE)), surface, clock.policy())
    assert result.broken and surface.files == [] and "attach" not in kinds(surface)


async def test_a_reply_whose_file_never_arrived_is_recorded_as_never_seen() -> None:
    clock = Clock()
    answered = TurnRef(1, 1, 1, 2)  # a stored reply: its outcome is the session's to settle
    engine = ScriptedEngine(["Your data:", Done(answered, Outcome.OK, attachment=FILE)])
    s = Session(engine, clock.policy(interval=0), grace=5.0, clock=clock)
    surface = RecordingSurface(clock)
    surface.fail("attach", Rejected("Request Entity Too Large"))
    msg = IncomingMessage(ConversationKey("test", "ana", "chat"), "/export", message_id="1")
    result = await s.handle(msg, surface)
    assert result is not None and not result.delivered
    assert engine.undelivered_refs == [answered] and engine.delivered_refs == []
    # The text promised a file: the person is told something went wrong.
    assert list(surface.messages.values()) == ["Your data:", t("internal_error", "en")]
