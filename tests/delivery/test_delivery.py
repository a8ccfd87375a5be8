"""deliver() against a recording surface, the clock driven by hand: throttle, pages, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from adapters.delivery import (
    ChatGone,
    PageGone,
    RateLimited,
    Rejected,
    Transient,
    deliver,
)
from bot.types import Accepted, Done, Outcome, ReplyEvent, TurnRef
from tests.delivery.surfaces import Clock, RecordingSurface, timed

# A command's answer: no feedback buttons (test_buttons.py has those).
REF = TurnRef(1, 1, 1)
DONE = Done(REF, Outcome.OK)


def words(n: int, gap: float) -> list[tuple[float, ReplyEvent]]:
    return [(gap, f"w{i} ") for i in range(n)]


async def test_edits_are_throttled_per_reply_and_the_final_text_always_lands() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    steps = [(0.0, Accepted(REF)), *words(30, 0.1), (0.0, DONE)]  # 3 s of streaming
    result = await deliver(timed(clock, *steps), surface, clock.policy(interval=1.0))
    writes = surface.writes()
    assert result.delivered and surface.messages == {1: "".join(f"w{i} " for i in range(30))}
    assert writes[0].kind == "send" and writes[0].text == "w0 "
    progress = [w.at for w in writes[:-1]]  # the final edit is never held back
    assert all(b - a >= 1.0 for a, b in zip(progress, progress[1:], strict=False)), progress
    assert 3 <= len(progress) <= 4  # one per second, not one per piece
    assert result.done == DONE and result.messages == [1]


async def test_two_replies_do_not_share_a_throttle() -> None:
    clock = Clock()
    a, b = RecordingSurface(clock), RecordingSurface(clock)

    async def interleaved(tag: str) -> None:
        steps: list[tuple[float, ReplyEvent]] = [(0.0, f"{tag}{i} ") for i in range(20)]
        surface = a if tag == "a" else b

        async def paced() -> AsyncIterator[ReplyEvent]:
            async for event in timed(clock, *steps, (0.0, DONE)):
                clock.now += 0.1
                await asyncio.sleep(0)  # let the other reply run
                yield event

        await deliver(paced(), surface, clock.policy(interval=1.0))

    await asyncio.gather(interleaved("a"), interleaved("b"))
    # Both keep moving: a shared throttle would starve one of them.
    assert len(a.writes()) >= 3 and len(b.writes()) >= 3


async def test_long_replies_are_paged_at_the_limit_with_code_fences_balanced() -> None:
    clock = Clock()
    surface = RecordingSurface(clock, limit=120)
    code = "\n".join(f"x_{i} = compute({i})" for i in range(40))
    text = "Here it is:\n\n```python\n" + code + "\n```\n\nDone."
    steps: list[tuple[float, ReplyEvent]] = [
        (0.0, text[i : i + 25]) for i in range(0, len(text), 25)
    ]
    result = await deliver(timed(clock, *steps, (0.0, DONE)), surface, clock.policy())
    pages = list(surface.messages.values())
    assert result.delivered and len(pages) >= 5
    assert all(len(p) <= 120 and p.count("```") % 2 == 0 for p in pages)
    lines = [line for p in pages for line in p.splitlines() if line.startswith("x_")]
    assert lines == code.splitlines()  # every code line once, in order


async def test_flood_control_on_the_final_text_is_waited_out_however_often_it_comes() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    for _ in range(5):  # more than any fixed retry budget
        surface.fail("edit", RateLimited(30), when=lambda text: text == "one two three")
    steps: list[tuple[float, ReplyEvent]] = [
        (0.0, "one "),
        (0.0, "two "),
        (0.0, "three"),
        (0.0, DONE),
    ]
    result = await deliver(timed(clock, *steps), surface, clock.policy(interval=60))
    assert result.delivered and surface.messages == {1: "one two three"}
    assert clock.sleeps == [30, 30, 30, 30, 30]


async def test_a_rate_limit_past_the_deadline_is_undelivered_not_waited() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("send", RateLimited(900))  # the progress send ...
    surface.fail("send", RateLimited(900))  # ... and the final one
    result = await deliver(timed(clock, (0.0, "hi"), (0.0, DONE)), surface, clock.policy())
    assert not result.delivered and result.broken and clock.sleeps == []


async def test_a_forty_second_outage_is_ridden_out_with_backoff_and_jitter() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    for _ in range(200):
        surface.fail("send", Transient("502 Bad Gateway"), when=lambda _: clock.now < 40)
    result = await deliver(timed(clock, (0.0, "answer"), (0.0, DONE)), surface, clock.policy())
    assert result.delivered and surface.messages == {1: "answer"}
    assert clock.now >= 40
    assert len(set(clock.sleeps)) > 1  # growing, jittered waits, not a fixed beat
    assert max(clock.sleeps) <= 15


async def test_an_outage_longer_than_the_deadline_gives_up_at_the_deadline() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    for _ in range(500):
        surface.fail("send", Transient("502 Bad Gateway"))
    policy = clock.policy(deadline=120)
    result = await deliver(timed(clock, (0.0, "answer"), (0.0, DONE)), surface, policy)
    assert not result.delivered and result.broken and not result.messages
    assert 60 < clock.now <= 120


async def test_a_page_that_can_no_longer_be_edited_is_sent_again() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("edit", PageGone("message to edit not found"))
    steps: list[tuple[float, ReplyEvent]] = [(0.0, "first "), (0.0, "second"), (0.0, DONE)]
    result = await deliver(timed(clock, *steps), surface, clock.policy(interval=0))
    assert result.delivered
    assert surface.messages == {1: "first ", 2: "first second"}


async def test_a_chat_that_is_gone_stops_everything_at_once() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("send", ChatGone("Forbidden: bot was blocked by the user"))
    steps: list[tuple[float, ReplyEvent]] = [(0.0, "a "), (0.0, "b "), (0.0, "c"), (0.0, DONE)]
    result = await deliver(timed(clock, *steps), surface, clock.policy(interval=0))
    assert result.gone and not result.delivered
    assert len(surface.writes()) == 1 and clock.sleeps == []


async def test_refused_formatting_is_resent_as_plain_text_for_the_rest_of_the_reply() -> None:
    clock = Clock()
    surface = RecordingSurface(clock, formatted=True, refuse_formatting=True)
    steps: list[tuple[float, ReplyEvent]] = [(0.0, "**bold "), (0.0, "text**"), (0.0, DONE)]
    result = await deliver(timed(clock, *steps), surface, clock.policy(interval=0))
    assert result.delivered and surface.messages == {1: "**bold text**"}
    refused = [c for c in surface.writes() if c.kind == "send"]
    assert len(refused) == 2  # formatted once, then plain; edits go plain at once


async def test_a_reply_refused_even_as_plain_text_is_broken() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.fail("send", Rejected("message is too long"))
    surface.fail("send", Rejected("message is too long"))
    result = await deliver(timed(clock, (0.0, "x"), (0.0, DONE)), surface, clock.policy())
    assert result.broken and not result.delivered and not result.messages


async def test_the_notice_of_a_failed_reply_follows_its_text() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    failed = Done(REF, Outcome.FAILED, "The model isn't answering.")
    result = await deliver(timed(clock, (0.0, "Part"), (0.0, failed)), surface, clock.policy())
    assert result.delivered and surface.messages == {1: "Part\n\nThe model isn't answering."}
    alone = RecordingSurface(clock)
    await deliver(timed(clock, (0.0, failed)), alone, clock.policy())
    assert alone.messages == {1: "The model isn't answering."}


async def test_nothing_to_answer_posts_nothing_but_still_finishes() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    result = await deliver(timed(clock), surface, clock.policy())
    assert surface.calls == [] and result.done is None and not result.delivered
    assert surface.finished == [result]


async def test_typing_shows_from_acceptance_until_text_and_is_never_cancelled() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    surface.typing_gate = asyncio.Event()  # the typing call is still in flight ...
    events = timed(clock, (0.0, Accepted(REF)), (0.0, "hello"), (0.0, DONE))

    async def slow_events() -> AsyncIterator[ReplyEvent]:
        async for event in events:
            yield event
            await asyncio.sleep(0.01)  # room for the typing task to start its call

    result = await deliver(slow_events(), surface, clock.policy())
    assert result.delivered and surface.calls[0].kind == "typing"
    assert surface.typing_done == 0  # ... when the reply is done
    surface.typing_gate.set()
    for _ in range(100):
        if surface.typing_done:
            break
        await asyncio.sleep(0.01)
    assert surface.typing_done == 1  # it ran to completion: stopping never cancels a call
    assert len([c for c in surface.calls if c.kind == "typing"]) == 1


async def test_no_typing_for_an_answer_that_is_not_accepted() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    await deliver(timed(clock, (0.0, "Commands:"), (0.0, DONE)), surface, clock.policy())
    assert [c.kind for c in surface.calls] == ["send"]


async def paced(*steps: tuple[float, ReplyEvent]) -> AsyncIterator[ReplyEvent]:
    """Events that arrive after real pauses (the first-words hold uses the event loop's time)."""
    for pause, event in steps:
        if pause:
            await asyncio.sleep(pause)
        yield event


async def test_a_quick_answer_is_one_send_with_no_typing_and_no_edits() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    steps: list[tuple[float, ReplyEvent]] = [(0.0, Accepted(REF))]
    steps += [*[(0.0, f"w{i} ") for i in range(20)], (0.0, DONE)]
    result = await deliver(paced(*steps), surface, clock.policy(interval=0, first_wait=5.0))
    assert result.delivered
    assert [(c.kind, c.text) for c in surface.calls] == [
        ("send", "".join(f"w{i} " for i in range(20)))
    ]


async def test_a_slow_answer_shows_typing_then_its_first_words_after_the_hold() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[ReplyEvent]:
        yield Accepted(REF)
        yield "first words "
        await gate.wait()  # the model stalls after its first words
        yield "and the rest"
        yield DONE

    delivering = asyncio.create_task(
        deliver(slow(), surface, clock.policy(interval=0, first_wait=0.05))
    )
    # Held back at first, then shown although the model has not gone on.
    for _ in range(500):
        if surface.messages:
            break
        await asyncio.sleep(0.01)
    assert surface.messages == {1: "first words "}
    gate.set()
    result = await asyncio.wait_for(delivering, 5)
    assert result.delivered and surface.messages == {1: "first words and the rest"}
    assert [c.kind for c in surface.calls] == ["send", "edit"]


async def test_a_silent_model_gets_typing_once_the_hold_is_over() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    steps: list[tuple[float, ReplyEvent]] = [(0.0, Accepted(REF)), (0.2, "late"), (0.0, DONE)]
    result = await deliver(paced(*steps), surface, clock.policy(interval=0, first_wait=0.05))
    assert result.delivered
    assert [c.kind for c in surface.calls] == ["typing", "send"]


async def test_a_quick_long_answer_is_one_send_per_page() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)  # 200 characters a page
    words = [f"word{i:03} " for i in range(100)]  # 800 characters
    steps: list[tuple[float, ReplyEvent]] = [(0.0, Accepted(REF))]
    steps += [*[(0.0, w) for w in words], (0.0, DONE)]
    result = await deliver(paced(*steps), surface, clock.policy(interval=0, first_wait=5.0))
    assert result.delivered
    assert {c.kind for c in surface.calls} == {"send"}  # no typing, no edits
    assert " ".join(surface.messages.values()).split() == [w.strip() for w in words]
    assert all(len(text) <= 200 for text in surface.messages.values())
