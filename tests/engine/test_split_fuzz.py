"""Splitting and paging generated replies: every invariant holds for any text and limit."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.split import ReplyPager, split_message, utf16_len
from tests.engine.split_oracle import WS, aligns, check_parts, fence_lines_fit

# --- generated markdown-ish replies -------------------------------------------------------

_word = st.one_of(
    st.text("abcdefghij", min_size=1, max_size=9),
    st.text("xyz", min_size=40, max_size=120),  # longer than some limits: forces hard cuts
    st.sampled_from(
        ["😀", "👨\u200d👩\u200d👧", "🇪🇸🇫🇷", "é", "ñandú", "`inline`", "a~b", "日本語"]
    ),
    # Fence markers inside prose: a cut must never leave one at the start of a line.
    st.sampled_from(["```py", "~~~", "```x```"]),
)
_paragraph = st.lists(
    st.tuples(_word, st.sampled_from([" ", " ", " ", "\n"])), min_size=1, max_size=40
).map(lambda ws: "".join(w + s for w, s in ws).rstrip())
_code_line = st.one_of(
    st.tuples(st.sampled_from(["", "  ", "    ", "\t"]), st.text("abc=(){}:;#", max_size=50)).map(
        "".join
    ),
    st.sampled_from(["~~~", "```python", "````", "x = '```'", ""]),
)


@st.composite
def _code_block(draw: st.DrawFn) -> str:
    char = draw(st.sampled_from("`~"))
    count = draw(st.integers(3, 5))
    indent = draw(st.sampled_from(["", "", "  "]))
    info = draw(st.sampled_from(["", "python", "js title=x", " sh"]))
    body = draw(st.lists(_code_line, max_size=40))
    marks = char * count
    # A content line may look like a fence, but must not close this block.
    body = [ln for ln in body if not (ln.strip(WS) and set(ln.strip(WS)) == {char})]
    return "\n".join([indent + marks + info, *body, indent + marks])


_block = st.one_of(
    _paragraph,
    _paragraph,
    _code_block(),
    st.sampled_from(["- item\n- item two", "```inline``` then prose", "# Title"]),
)
replies = st.lists(
    st.tuples(_block, st.sampled_from(["\n\n", "\n", "\n\n\n", "\n \n"])), min_size=1, max_size=12
).map(lambda bs: "".join(b + s for b, s in bs).rstrip("\n"))
measures = st.sampled_from([len, utf16_len])

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(text=replies, limit=st.integers(40, 400), measure=measures)
def test_split_fuzzed_replies_keep_every_invariant(
    text: str, limit: int, measure: Callable[[str], int]
) -> None:
    assume(fence_lines_fit(text, limit))
    parts = split_message(text, limit, measure)
    check_parts(text, parts, limit, measure)
    if measure(text) <= limit:
        assert parts == [text]


@FUZZ
@given(text=st.text("ab `~\n\t😀é", max_size=400), limit=st.integers(12, 80), measure=measures)
def test_split_arbitrary_text_fits_and_loses_nothing(
    text: str, limit: int, measure: Callable[[str], int]
) -> None:
    parts = split_message(text, limit, measure)
    assert all(measure(p) <= limit for p in parts)
    assert all(p for p in parts)
    assert aligns(text, parts) or not text.strip(WS)


@FUZZ
@given(
    text=replies,
    limit=st.integers(40, 300),
    measure=measures,
    steps=st.lists(st.integers(1, 60), min_size=1, max_size=200),
)
def test_pager_streamed_in_random_chunks_reproduces_the_reply(
    text: str, limit: int, measure: Callable[[str], int], steps: list[int]
) -> None:
    assume(fence_lines_fit(text, limit))
    pager = ReplyPager(limit, measure)
    final: list[str] = []
    end = 0
    for step in steps * (len(text) // max(sum(steps), 1) + 1):
        end = min(len(text), end + step)
        new, page = pager.update(text[:end])
        final.extend(new)
        assert measure(page) <= limit
        # What is final plus what is shown is always the reply so far.
        assert aligns(text[:end], final + [page] if page.strip(WS) else final)
        if end == len(text):
            break
    rest = pager.finish(text)
    check_parts(text, final + rest, limit, measure)
