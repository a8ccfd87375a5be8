"""Hypothesis strategies for hostile text: every plane, bidi, controls, huge sizes, bad Markdown."""

from __future__ import annotations

from hypothesis import strategies as st

# utf-8 leaves out lone surrogates: Python cannot encode them (nor SQLite store them).
ANY_CHAR = st.characters(codec="utf-8")
RTL = st.characters(min_codepoint=0x0590, max_codepoint=0x06FF)  # Hebrew and Arabic
ZERO_WIDTH = st.sampled_from("\u200b\u200c\u200d\u2060\ufeff")
BIDI = st.sampled_from("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
CONTROL = st.sampled_from([chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]])
# Whole grapheme clusters the splitter must not cut through.
CLUSTERS = st.sampled_from(
    [
        "👨\u200d👩\u200d👧\u200d👦",
        "🇪🇸🇫🇷🇯🇵",
        "👍🏽",
        "e\u0301\u0302",
        "❤\ufe0f",
        "🏴\U000e0067\U000e0062\U000e007f",
    ]
)
ASCII_WS = " \t\n\r\f\v"
_NO_SPACE = st.characters(codec="utf-8", exclude_characters=ASCII_WS)

_MARKUP = st.sampled_from(
    [
        "**", "__", "*", "_", "`", "``", "```", "~~~", "~~", "||", "\\", "[", "](", "]", ")",
        "<", ">", "#", "# ", "> ", "- ", "1. ", "* ", "+ ", "  - ", "---", "|", "![", "<b>",
        "</b>", "<tg-spoiler>", "[x]: /u", "- [ ] ", "1. [x] ", "&amp;", "\n", "\n\n", "    ",
    ]
)  # fmt: skip
_char = st.one_of(ANY_CHAR, RTL, ZERO_WIDTH, BIDI, CONTROL, st.sampled_from("ab \n`~*_|>-"))
_plain = st.text(_char, min_size=1, max_size=40)
_word = st.text(st.sampled_from("abcdefghijklmnop"), min_size=1, max_size=12)


def _repeat(seed: str, size: int) -> str:
    return (seed * (size // len(seed) + 1))[:size]


def long_word(size: int = 10_000) -> st.SearchStrategy[str]:
    """`size` characters with no ASCII whitespace: a word no line break can split."""
    return st.text(_NO_SPACE, min_size=1, max_size=12).map(lambda s: _repeat(s, size))


@st.composite
def fence(draw: st.DrawFn) -> str:
    """A fenced code block, maybe unclosed, with a language, hostile lines and fake fences."""
    char = draw(st.sampled_from("`~"))
    marks = char * draw(st.integers(3, 6))
    lang = draw(st.sampled_from(["", "python", "js title=x", " sh", "c++", "ع", "x`y"]))
    lines = draw(st.lists(st.one_of(_plain, _MARKUP, st.just(marks[:-1])), max_size=8))
    indent = draw(st.sampled_from(["", "", "  ", "   "]))
    close = draw(st.sampled_from([indent + marks, marks + char, "", marks[:3]]))
    return "\n".join([indent + marks + lang, *lines, close])


@st.composite
def nested(draw: st.DrawFn) -> str:
    """Deeply nested or unbalanced quotes, lists and emphasis."""
    depth = draw(st.integers(1, 50))
    word = draw(_word)
    kind = draw(st.sampled_from(["quote", "list", "ordered", "emphasis", "unbalanced", "mixed"]))
    if kind == "quote":
        return "> " * depth + word
    if kind == "list":
        return "\n".join("  " * i + "- " + word for i in range(depth))
    if kind == "ordered":
        return "\n".join("   " * i + f"{i + 1}. " + word for i in range(depth))
    marks = draw(st.lists(st.sampled_from(["**", "__", "*", "_", "~~", "||", "`"]), max_size=depth))
    if kind == "emphasis":
        return "".join(marks) + word + "".join(reversed(marks))
    if kind == "unbalanced":
        return "".join(marks) + word
    return "\n".join(
        "> " * (i % 7) + "  " * (i % 5) + "- " + m + word for i, m in enumerate(marks or ["*"])
    )


@st.composite
def table(draw: st.DrawFn) -> str:
    """A Markdown table, maybe ragged (rows with more or fewer cells than the header)."""
    cols = draw(st.integers(1, 6))
    cell = st.one_of(_word, _plain.map(lambda s: s.replace("\n", " ")), _MARKUP, st.just(""))
    head = draw(st.lists(cell, min_size=cols, max_size=cols))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=cols + 2), max_size=6))
    sep = "|" + "|".join(draw(st.sampled_from(["---", ":--", "--:", ":-:"])) for _ in head) + "|"
    return "\n".join(["| " + " | ".join(r) + " |" for r in [head]] + [sep] + [
        "| " + " | ".join(r) + " |" for r in rows
    ])  # fmt: skip


_piece = st.one_of(
    _plain,
    _MARKUP,
    _word,
    CLUSTERS,
    fence(),
    nested(),
    table(),
    st.text(_char, min_size=50, max_size=300),
    long_word(1500),  # longer than a Discord page
)
_sep = st.sampled_from(["", " ", "\n", "\n\n", "\r\n", "\u2028"])
_document = st.lists(st.tuples(_piece, _sep), min_size=1, max_size=25).map(
    lambda ps: "".join(p + s for p, s in ps)
)


@st.composite
def big(draw: st.DrawFn) -> str:
    """About 100,000 characters: a hostile document repeated, or one 10,000-character word."""
    kind = draw(st.sampled_from(["repeat", "word", "word-in-text"]))
    if kind == "word":
        return draw(long_word())
    if kind == "word-in-text":
        return draw(_document) + " " + draw(long_word()) + "\n" + draw(_document)
    return _repeat(draw(_document) + "\n", 100_000)


@st.composite
def hostile(draw: st.DrawFn, big_chance: int = 8) -> str:
    """Hostile text; about one example in `big_chance` is huge (10,000 to 100,000 chars)."""
    if draw(st.integers(0, big_chance - 1)) == 0:
        return draw(big())
    return draw(_document)
