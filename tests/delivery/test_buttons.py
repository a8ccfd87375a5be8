"""The feedback buttons: on the last page of every finished answer, and nowhere else."""

from __future__ import annotations

from adapters.delivery import Feedback, Rejected, deliver, feedback
from bot.types import Accepted, Done, Outcome, ReplyEvent, TurnRef
from tests.delivery.surfaces import Clock, RecordingSurface, timed

ANSWER = TurnRef(1, 1, 1, 2)  # a model's answer, recorded: it gets 👍 👎 ↻
OK = Done(ANSWER, Outcome.OK)
BUTTONS = Feedback(2)


def stream(text: str, n: int) -> list[tuple[float, ReplyEvent]]:
    return [(0.0, Accepted(ANSWER)), *[(0.3, text) for _ in range(n)], (0.0, OK)]


async def test_a_quick_answer_is_one_message_carrying_its_buttons() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    policy = clock.policy(first_wait=0.5)
    result = await deliver(
        timed(clock, (0.0, Accepted(ANSWER)), (0.0, "Hola"), (0.0, OK)), surface, policy
    )
    assert result.delivered
    assert [(c.kind, c.text, c.buttons) for c in surface.calls] == [("send", "Hola", BUTTONS)]


async def test_a_streamed_answer_gets_its_buttons_with_the_final_text() -> None:
    clock = Clock()
    surface = RecordingSurface(clock)
    await deliver(timed(clock, *stream("palabra ", 12)), surface, clock.policy(interval=1.0))
    writes = surface.writes()
    assert all(w.buttons is None for w in writes[:-1]) and writes[-1].buttons == BUTTONS
    assert writes[-1].text == "palabra " * 12


async def test_only_the_last_page_of_a_long_answer_has_them() -> None:
    clock = Clock()
    surface = RecordingSurface(clock, limit=100)
    await deliver(timed(clock, *stream("x" * 30 + "\n", 12)), surface, clock.policy())
    writes = surface.writes()
    assert sum(w.kind == "send" for w in writes) >= 3  # pages
    assert writes[-1].buttons == BUTTONS and all(w.buttons is None for w in writes[:-1])


async def test_refused_formatting_keeps_the_buttons_on_the_plain_text() -> None:
    clock = Clock()
    surface = RecordingSurface(clock, formatted=True, refuse_formatting=True)
    result = await deliver(timed(clock, (0.0, "**hola**"), (0.0, OK)), surface, clock.policy())
    assert result.delivered and surface.writes()[-1].buttons == BUTTONS


async def test_failures_commands_and_refusals_get_no_buttons() -> None:
    for done in (
        Done(ANSWER, Outcome.FAILED, "The model isn't answering."),
        Done(ANSWER, Outcome.BLOCKED, "Blocked."),
        Done(TurnRef(1, 1, 1), Outcome.OK),  # a command's answer: nothing stored to rate
        Done(None, Outcome.FAILED, "Something went wrong."),
    ):
        assert feedback(done) is None
        clock = Clock()
        surface = RecordingSurface(clock)
        await deliver(timed(clock, (0.0, "texto"), (0.0, done)), surface, clock.policy())
        assert surface.writes() and all(c.buttons is None for c in surface.calls)


async def test_an_answer_whose_pages_were_all_final_gets_its_buttons_by_an_edit() -> None:
    clock = Clock()
    surface = RecordingSurface(clock, limit=100)
    text = "x" * 100 + "\n\n"  # exactly a page: nothing is left open when the answer ends
    result = await deliver(timed(clock, (0.0, text), (0.0, OK)), surface, clock.policy())
    writes = surface.writes()
    assert result.delivered and surface.messages == {1: "x" * 100}
    assert writes[-1].kind == "edit" and writes[-1].buttons == BUTTONS
    assert writes[-1].text == "x" * 100


async def test_a_refused_edit_for_the_buttons_costs_nothing_else() -> None:
    clock = Clock()
    surface = RecordingSurface(clock, limit=100)
    surface.fail("edit", Rejected("Bad Request: message can't be edited"))
    text = "x" * 100 + "\n\n"
    result = await deliver(timed(clock, (0.0, text), (0.0, OK)), surface, clock.policy())
    # The person has the whole answer: no second copy, still delivered, only no buttons.
    assert result.delivered and not result.broken
    assert [w.kind for w in surface.writes()] == ["send", "edit"] and surface.messages == {
        1: "x" * 100
    }
