"""Old turns leave the window in blocks for a model that reuses its evaluated prompt, so the
prompt's start stays the same from one turn to the next."""

from __future__ import annotations

from bot.context import fit_window
from bot.types import StoredTurn, Turn
from tests.conftest import MakeEngine, collect, command, events, msg
from tests.fakes.model import FakeModel


def grown(n: int) -> list[StoredTurn]:
    """A conversation of `n` turns of 10-19 tokens, newest first as the store reads it."""
    turns = [
        StoredTurn("user" if i % 2 == 0 else "assistant", f"turn {i}", 10 + i % 10, i + 1)
        for i in range(n)
    ]
    return list(reversed(turns))


def first_texts(step: int, budget: int = 200, upto: int = 80) -> list[str]:
    """The window's first turn as the conversation grows one turn at a time."""
    firsts = []
    for n in range(2, upto):
        window = fit_window(grown(n), budget, step)
        tokens = sum(10 + int(t.text.split()[1]) % 10 for t in window)
        assert tokens <= budget and window[0].role == "user"
        total = sum(t.tokens for t in grown(n))
        if step and total > budget:
            assert tokens >= budget - step - 2 * 19  # at most one block (and a turn pair) less
        firsts.append(window[0].text)
    return firsts


def changes(values: list[str]) -> int:
    return sum(a != b for a, b in zip(values, values[1:], strict=False))


def test_stepped_window_moves_its_start_far_less_often() -> None:
    one_by_one = changes(first_texts(step=0))
    stepped = changes(first_texts(step=100))  # half the budget, as the engine steps
    assert one_by_one > 25  # past the budget, nearly every turn shifted the start
    assert stepped <= one_by_one // 3


def test_without_step_the_window_is_unchanged() -> None:
    assert fit_window(grown(6), 1000) == [Turn(t.role, t.text) for t in reversed(grown(6))]


class Reusing(FakeModel):
    """The fake model at the port, declaring that it keeps its evaluated prompt."""

    reuses_prefix = True


async def test_engine_drops_turns_in_blocks_for_a_prefix_reusing_model(
    make_engine: MakeEngine,
) -> None:
    starts: dict[bool, list[str]] = {}
    for reusing in (False, True):
        model = (
            Reusing("a short answer of a few words")
            if reusing
            else FakeModel("a short answer of a few words")
        )
        engine = make_engine(model, context_tokens=300)
        user = f"u{int(reusing)}"
        for i in range(40):
            await events(engine, msg(f"message number {i} with a handful of words", user))
        starts[reusing] = [turns[0].text for _, turns in model.calls]
    assert changes(starts[False]) > 20
    assert changes(starts[True]) <= changes(starts[False]) // 3


async def test_memory_goes_after_the_window_for_a_prefix_reusing_model(
    make_engine: MakeEngine,
) -> None:
    """Recall changes with every message: ahead of the window, it had a model that reuses
    its evaluated prompt evaluate the whole window again for each message."""
    calls: dict[bool, list[tuple[str, list[Turn]]]] = {}
    for reusing in (False, True):
        model = Reusing("fine") if reusing else FakeModel("fine")
        engine = make_engine(model)
        user = f"r{int(reusing)}"
        await events(engine, msg("My bicycle is called Rocinante", user))
        await events(engine, msg("The greenhouse has seven tomato plants", user))
        await collect(engine, command("/new", user=user))
        await events(engine, msg("Tell me about the weather", user))
        before = len(model.calls)
        await events(engine, msg("What is my bicycle called?", user))
        await events(engine, msg("How many tomato plants are there?", user))
        calls[reusing] = [(system, list(turns)) for system, turns in model.calls[before:]]
    # Elsewhere the recalled exchange is in the system prompt, as before.
    (bike_system, bike_turns), (tomato_system, _) = calls[False]
    assert "Rocinante" in bike_system and "tomato" in tomato_system
    assert all(t.role != "system" for t in bike_turns)
    # For the reusing model the system prompt and the window stay as they were, and memory
    # is a system turn right before the newest message.
    (bike_system, bike_turns), (tomato_system, tomato_turns) = calls[True]
    assert bike_system == tomato_system and "Rocinante" not in bike_system
    assert [t.role for t in bike_turns[-2:]] == ["system", "user"]
    assert "Rocinante" in bike_turns[-2].text and "tomato" in tomato_turns[-2].text
    assert bike_turns[-1].text == "What is my bicycle called?"
    # The turns before it are the previous request's turns plus its answer: only the
    # memory and the newest message are new to the model.
    assert [t.role for t in bike_turns[:-2]] == ["user", "assistant"]
    assert tomato_turns[: len(bike_turns) - 2] == bike_turns[:-2]
    assert tomato_turns[len(bike_turns) - 2 : len(bike_turns)] == [
        bike_turns[-1],
        Turn("assistant", "fine"),
    ]


async def test_a_prefix_reusing_model_keeps_memory_to_recalls_own_share(
    make_engine: MakeEngine,
) -> None:
    """Every token of memory is read again on every message by such a model: recall does not
    borrow the facts' and summary's unused shares for it, as it does for the others."""
    sizes: dict[bool, int] = {}
    for reusing in (False, True):
        model = Reusing("fine") if reusing else FakeModel("fine")
        engine = make_engine(model, context_tokens=1000)
        user = f"s{int(reusing)}"
        for i in range(40):
            await events(engine, msg(f"Note {i}: the garden needs water on day {i}", user))
        await collect(engine, command("/new", user=user))
        await events(engine, msg("When does the garden need water?", user))
        system, turns = model.calls[-1]
        start = system.find("From earlier conversations")
        memory = turns[-2].text if reusing else system[start:]
        sizes[reusing] = model.estimate_tokens(memory)
    assert sizes[True] <= 1000 * 0.20 < sizes[False] <= 1000 * 0.50
