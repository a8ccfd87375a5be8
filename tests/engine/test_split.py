"""Splitting replies into platform-sized parts and paging a streamed reply: concrete cases."""

from __future__ import annotations

import re

import pytest

from bot.split import ReplyPager, split_message, utf16_len
from tests.engine.split_oracle import check_parts, open_fence

# --- concrete cases ---------------------------------------------------------------------


def test_ten_thousand_chars_with_a_long_python_block_at_telegram_limit() -> None:
    code = "".join(
        f"    total_{i} = compute(values[{i}], scale={i % 7})  # step {i}\n" for i in range(165)
    )
    text = (
        "Here is the script you asked for. " * 20
        + "\n\n```python\ndef main():\n"
        + code
        + "```\n\n"
        + "It runs each step in order. " * 20
    )
    assert len(text) > 10_000
    parts = split_message(text, 4096, utf16_len)
    check_parts(text, parts, 4096, utf16_len)
    assert len(parts) == 3
    assert parts[0].endswith("\n```")
    assert parts[1].startswith("```python\n    total_") and parts[1].endswith("\n```")
    assert parts[2].startswith("```python\n")


def test_five_thousand_chars_of_prose_at_discord_limit() -> None:
    para = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8
    text = "\n\n".join([para.strip()] * 11)
    assert len(text) >= 5000
    parts = split_message(text, 2000)
    check_parts(text, parts, 2000, len)
    assert len(parts) == 3
    assert "\n".join(parts).split() == text.split()
    # Each cut falls at a paragraph break, so every part holds whole paragraphs.
    assert all(p.endswith("elit.") and p.startswith("Lorem") for p in parts)


def test_paragraph_break_is_preferred_over_line_break_over_space() -> None:
    para = "a" * 60 + "\n\n" + "b" * 20 + "\n" + "c" * 10 + " " + "d" * 60
    assert split_message(para, 100)[0] == "a" * 60
    line = "a" * 40 + " " + "b" * 20 + "\n" + "c" * 10 + " " + "d" * 60
    assert split_message(line, 100)[0] == "a" * 40 + " " + "b" * 20
    words = " ".join(["word"] * 30)
    parts = split_message(words, 100)
    assert parts[0] == " ".join(["word"] * 20) and all(p.startswith("word") for p in parts)


def test_a_break_in_the_first_half_loses_to_a_poorer_one_that_fills_the_part() -> None:
    # A lone "Sure!\n\n" must not become a message of its own.
    text = "Sure!\n\n" + "line of text\n" * 20
    parts = split_message(text, 100)
    assert parts[0].startswith("Sure!\n\nline of text") and len(parts[0]) > 50


def test_single_five_thousand_char_word_is_cut_hard() -> None:
    word = "x" * 5000
    assert split_message(word, 2000) == ["x" * 2000, "x" * 2000, "x" * 1000]


def test_utf16_len_counts_astral_characters_twice() -> None:
    assert utf16_len("") == 0
    assert utf16_len("héllo") == 5
    assert utf16_len("😀") == 2
    assert utf16_len("👨\u200d👩\u200d👧") == 8


def test_emoji_are_never_split_and_utf16_limit_is_respected() -> None:
    text = "😀" * 3000
    parts = split_message(text, 4095, utf16_len)
    assert [len(p) for p in parts] == [2047, 953]
    assert "".join(parts) == text
    assert split_message(text, 4096) == [text]  # by code points it fits


def test_hard_cut_keeps_joined_emoji_and_flags_whole() -> None:
    family = "👨\u200d👩\u200d👧"
    parts = split_message(family * 100, 64, utf16_len)
    assert all(utf16_len(p) <= 64 for p in parts)
    assert all(p == family * (len(p) // len(family)) for p in parts)
    flags = "🇪🇸" * 100
    parts = split_message(flags, 31, utf16_len)
    assert all(len(p) % 2 == 0 and p == "🇪🇸" * (len(p) // 2) for p in parts)


def test_tilde_fence_with_backticks_inside_is_reopened_with_tildes() -> None:
    body = "\n".join(["```not a close", "~~", "value = 1"] * 20)
    text = "~~~~markdown\n" + body + "\n~~~~"
    parts = split_message(text, 200)
    check_parts(text, parts, 200, len)
    assert all(p.startswith("~~~~markdown\n") for p in parts)
    assert all(p.endswith("\n~~~~") for p in parts)


def test_an_info_string_starting_with_the_fence_char_is_reopened_apart() -> None:
    text = "~~~ ~~~\n" + "\n".join(["tilde art"] * 12) + "\n~~~"
    parts = split_message(text, 60)
    check_parts(text, parts, 60, len)
    assert len(parts) > 1 and all(p.startswith("~~~ ~~~\ntilde") for p in parts)


def test_inline_backticks_and_inline_triple_backticks_are_not_fences() -> None:
    text = ("Use `x` and ```y``` freely.\n" * 3 + "```inline``` at a line start\n") * 10
    parts = split_message(text, 120)
    check_parts(text, parts, 120, len)
    assert not any(p.startswith("```") and not p.startswith("```inline") for p in parts)


def test_a_code_block_that_fits_a_part_is_not_split() -> None:
    intro = "Some explanation first. " * 40
    block = "```js\n" + "console.log(1);\n" * 90 + "```"
    text = intro.strip() + "\n\n" + block + "\n\nDone."
    parts = split_message(text, 2000)
    check_parts(text, parts, 2000, len)
    assert parts[1].startswith(block)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 25 + "\n```python\n" + "step()\n" * 6 + "```\n" + "b" * 20,
        "```python\n" + "x" * 150 + "\n```\n" + "b" * 20,
        "```python\n" + "x" * 150 + "\n" + "y" * 12 + "\n```\n\n" + "b" * 20,
        "```python\n" + "step()\n" * 6 + "   ```\n\n" + "b" * 40,  # indented closer
    ],
    ids=["after-prose", "long-line", "before-closer", "indented-closer"],
)
def test_cuts_never_leave_an_empty_code_block(text: str) -> None:
    for limit in range(30, 90):  # every limit, so some window ends at each fence
        parts = split_message(text, limit)
        check_parts(text, parts, limit, len)
        assert not any(re.search(r"```python\n *```", p) for p in parts), limit


def test_a_cut_at_a_space_never_starts_a_part_with_a_fence() -> None:
    text = "word " * 8 + "```python is how a fence starts " + "word " * 7 + "word"
    for limit in range(20, 60):
        parts = split_message(text, limit)
        check_parts(text, parts, limit, len)
        assert all(open_fence(p) is None for p in parts), limit


def test_indentation_survives_a_cut_inside_code() -> None:
    text = "```py\n" + "".join(f"        deep_{i}()\n" for i in range(40)) + "```"
    parts = split_message(text, 150)
    check_parts(text, parts, 150, len)
    assert all(p.startswith("```py\n        deep_") for p in parts)


def test_empty_whitespace_and_fitting_text() -> None:
    assert split_message("", 10) == []
    assert split_message("  fits \n", 10) == ["  fits \n"]
    assert split_message(" " * 50, 10) == []


def test_limit_must_be_positive_and_large_enough() -> None:
    with pytest.raises(ValueError):
        split_message("abc", 0)
    with pytest.raises(ValueError):
        split_message("😀😀", 1, utf16_len)


def test_pager_reopens_fence_on_the_open_page() -> None:
    pager = ReplyPager(80)
    text = "Look:\n\n```python\n" + "".join(f"print({i})\n" for i in range(30)) + "```\nBye."
    pages: list[str] = []
    seen_open: list[str] = []
    for end in range(1, len(text) + 1, 7):
        new, page = pager.update(text[:end])
        pages += new
        seen_open.append(page)
    pages += pager.finish(text)
    check_parts(text, pages, 80, len)
    assert pages[1].startswith("```python\nprint(")
    assert any(p.startswith("```python\nprint(") for p in seen_open[1:])
    assert pages[-1].endswith("```\nBye.")


def test_pager_returns_each_final_page_once() -> None:
    pager = ReplyPager(30)
    text = " ".join(f"w{i}" for i in range(100))
    batches = [pager.update(text[:end])[0] for end in range(0, len(text) + 1, 5)]
    final = [p for batch in batches for p in batch] + pager.finish(text)
    assert final == split_message(text, 30)


def test_pager_work_per_update_is_bounded_by_the_open_page() -> None:
    measured = 0

    def counting_len(s: str) -> int:
        nonlocal measured
        measured += len(s)
        return len(s)

    limit = 200
    text = ("A sentence of prose that goes on. " * 5 + "\n\n") * 600  # ~100k chars
    pager = ReplyPager(limit, counting_len)
    worst = 0
    for end in range(0, len(text), 20):
        measured = 0
        pager.update(text[:end])
        worst = max(worst, measured)
    # O(whole reply) would measure ~100k characters by the end.
    assert worst < 40 * limit


def test_pager_waits_for_text_after_whitespace_at_a_cut() -> None:
    pager = ReplyPager(20)
    assert pager.update("x" * 20 + "\n") == (["x" * 20], "")  # nothing to show but whitespace
    assert pager.update("x" * 20 + "\n\n  \n") == ([], "")
    assert pager.update("x" * 20 + "\n\n  \nzzzzz") == ([], "zzzzz")
    assert pager.finish("x" * 20 + "\n\n  \nzzzzz!") == ["zzzzz!"]


def test_pager_rejects_a_shrinking_reply_and_reuse_after_finish() -> None:
    pager = ReplyPager(50)
    pager.update("hello there")
    with pytest.raises(ValueError):
        pager.update("hello")
    assert pager.finish("hello there!") == ["hello there!"]
    with pytest.raises(RuntimeError):
        pager.update("hello there!!")
