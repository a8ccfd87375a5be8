"""Telegram rendering of hostile pages: never raises, entities valid, the message fits."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.telegram.render import LIMIT, render, utf16_len
from adapters.telegram.surface import MARGIN
from bot.split import ReplyPager
from tests.hostile.strategies import hostile

PAGE = LIMIT - MARGIN
RENDER = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_message(text: str, entities: tuple[dict[str, Any], ...]) -> None:
    """What the Bot API takes: text within the limit, entities in range, nested, not crossing."""
    units = text.encode("utf-16-le", "surrogatepass")
    total = len(units) // 2
    assert 0 < total <= LIMIT
    text.encode("utf-8")  # no lone surrogate: the request must serialise

    def inside_pair(at: int) -> bool:  # between the two halves of a surrogate pair
        return (
            0 < at < total
            and 0xDC00 <= int.from_bytes(units[2 * at : 2 * at + 2], "little") <= 0xDFFF
        )

    spans = sorted(entities, key=lambda e: (e["offset"], -e["length"]))
    stack: list[int] = []  # ends of the entities enclosing the current one
    for e in spans:
        start, end = e["offset"], e["offset"] + e["length"]
        assert isinstance(e["type"], str) and e["type"], e
        assert 0 <= start < end <= total, (e, total)
        assert not inside_pair(start) and not inside_pair(end), e
        while stack and stack[-1] <= start:
            stack.pop()
        assert not stack or end <= stack[-1], ("entities cross", e)
        stack.append(end)


@RENDER
@given(markdown=hostile(big_chance=10))
@example(markdown="> " * 50 + "**deep**")
@example(markdown="| a | b |\n|---|---|\n| [x](http://e.com) | y | z | w |")
@example(markdown="\x00\x01\x1b[31m **bold\u202e** `code\u200b`\n```\x7f\n\x85\n```")
def test_every_page_renders_to_a_valid_message(markdown: str) -> None:
    for page in ReplyPager(PAGE, utf16_len).finish(markdown):
        text, entities = render(page)
        check_message(text, entities)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(markdown=st.text(st.sampled_from("*_`~|>[]()!#-+1. \n\\<\u200dé😀"), max_size=400))
def test_markup_soup_renders_to_a_valid_message(markdown: str) -> None:
    text, entities = render(markdown)
    if markdown.strip():
        check_message(text, entities)
