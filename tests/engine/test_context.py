"""The memory sections of a prompt: recall's lines within their room, and the shares lent."""

from __future__ import annotations

from bot import context
from bot.models import rough_tokens
from bot.types import Fact, Recalled

REPLY = (
    "That sounds like quite a day; if you like, we can go over it later and you can tell me"
    " how everything else is going, and what you want to do about it next week."
)


def hits(n: int) -> list[Recalled]:
    """`n` recalled user turns, best first, each with a long reply."""
    return [
        Recalled("user", f"I told you thing number {i}", 1_700_000_000.0 + i, REPLY)
        for i in range(n)
    ]


def test_every_hit_gets_a_line_before_the_others_get_whole_exchanges() -> None:
    budget = 500
    block = context.recall_block(hits(20), budget, rough_tokens)
    assert rough_tokens(block) <= budget
    lines = block.splitlines()[1:]
    # Twenty whole exchanges would take twice the room: each hit has its line instead.
    assert 20 * rough_tokens(context.recall_block(hits(1), 10**6, rough_tokens)) > 2 * budget
    assert [f"thing number {i}" in line for i, line in enumerate(lines)] == [True] * 20
    # The best ones come whole, the rest with the person's words only.
    whole = [line for line in lines if "You answered" in line]
    assert whole and all(f"thing number {i}" in whole[i] for i in range(context.WHOLE_FIRST))
    assert "You answered" not in lines[-1]


def test_with_room_to_spare_every_exchange_is_whole() -> None:
    block = context.recall_block(hits(5), 10_000, rough_tokens)
    assert block.count("You answered") == 5


def test_a_matched_reply_keeps_its_own_words_in_the_short_line() -> None:
    hit = Recalled("assistant", "Your dentist is on Monday at nine", 1_700_000_000.0, "When?")
    lines = context.recall_block([*hits(3), hit], 120, rough_tokens).splitlines()
    assert "You answered: Your dentist is on Monday at nine" in lines[-1]


def memory(facts: int, recalled: int) -> context.Memory:
    told = [Fact(i, f"Fact {i} about me", 1_700_000_000.0) for i in range(facts)]
    return context.Memory(told, None, hits(recalled), ())


def test_recall_borrows_what_facts_and_summary_leave() -> None:
    budget = 2000
    lent = context.memory_prompt(memory(0, 80), budget, rough_tokens)
    kept = context.memory_prompt(memory(0, 80), budget, rough_tokens, lend=False)
    # Its own 20 %, or up to the 50 % the three parts share when facts and summary are empty.
    assert rough_tokens(kept) <= budget * 0.20 < rough_tokens(lent) <= budget * 0.50
    assert lent.count("- [") > kept.count("- [")
    # Facts that fill their share leave recall less to borrow.
    with_facts = context.memory_prompt(memory(200, 80), budget, rough_tokens)
    recall = with_facts[with_facts.index("From earlier conversations") :]
    assert rough_tokens(recall) < rough_tokens(lent)
    assert rough_tokens(with_facts) <= budget * 0.50
