"""The pager on hostile text streamed in random chunks: pages fit, fences balance, nothing lost."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.split import ReplyPager, utf16_len
from tests.engine.split_oracle import WS, aligns, fence_lines_fit, open_fence
from tests.hostile.platforms import PLATFORMS, Measure
from tests.hostile.strategies import hostile

HOSTILE = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def page_through(text: str, limit: int, measure: Measure, steps: list[int]) -> list[str]:
    """Feed `text` to a pager in chunks of `steps` (cycled); check every open page on the way."""
    pager = ReplyPager(limit, measure)
    pages: list[str] = []
    end = 0
    i = 0
    while end < len(text):
        end = min(len(text), end + steps[i % len(steps)])
        i += 1
        final, open_page = pager.update(text[:end])
        pages.extend(final)
        assert all(measure(p) <= limit for p in final)
        assert measure(open_page) <= limit
    pages.extend(pager.finish(text))
    return pages


def check_pages(text: str, pages: list[str], limit: int, measure: Measure) -> None:
    """The pager's contract: see ReplyPager and split_message in bot/split.py."""
    assert all(measure(p) <= limit for p in pages), [measure(p) for p in pages]
    if not text.strip(WS):
        # Blank text that fits comes back unchanged (delivery sends no blank page).
        assert pages in ([], [text])
        return
    assert all(p.strip(WS) for p in pages)  # no page is only whitespace
    # Whole answer: the pages, less a fence line reopened at the top or a closing fence
    # added at the bottom, are the text less ASCII whitespace dropped at each cut.
    assert aligns(text, pages)
    if fence_lines_fit(text, limit):  # a longer fence line cannot be reopened on a page
        unclosed = [open_fence(p) for p in pages[:-1]]
        assert unclosed == [None] * len(unclosed)
        if open_fence(text) is None and pages:
            assert open_fence(pages[-1]) is None


@HOSTILE
@given(
    text=hostile(),
    platform=st.sampled_from(PLATFORMS),
    steps=st.lists(st.integers(1, 3000), min_size=1, max_size=30),
)
@example(text="```py\n" + "x" * 5000 + "\n```", platform=PLATFORMS[1], steps=[7])
@example(text="\r", platform=PLATFORMS[0], steps=[1])  # blank, and it fits
@example(text="\u200d" * 2500, platform=PLATFORMS[1], steps=[1000])
def test_streamed_hostile_pages_fit_balance_and_hold_the_answer(
    text: str, platform: tuple[str, int, Measure], steps: list[int]
) -> None:
    _, limit, measure = platform
    pages = page_through(text, limit, measure, steps)
    check_pages(text, pages, limit, measure)
    if text and measure(text) <= limit:
        assert pages == [text]  # text that fits comes back unchanged


@settings(max_examples=40, deadline=None, derandomize=True)
@given(text=hostile(big_chance=4), platform=st.sampled_from(PLATFORMS))
def test_pages_all_at_once_match_streamed_pages_contract(
    text: str, platform: tuple[str, int, Measure]
) -> None:
    _, limit, measure = platform
    check_pages(text, ReplyPager(limit, measure).finish(text), limit, measure)


def test_a_hundred_thousand_character_reply_in_small_chunks() -> None:
    text = ("Ǝ𝔘 مرحبا שלום \u200b\u202e**x** `y`\n```py\nz = 1\n" * 2500)[:100_000]
    for _, limit, measure in PLATFORMS:
        pages = page_through(text, limit, measure, [97])
        check_pages(text, pages, limit, measure)
        assert len(pages) >= utf16_len(text) // limit
