"""Fenced code blocks and break points in Markdown text: the line scanning behind bot.split."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WS = re.compile(r"[ \t\n\r\f\v]+")
_MARKS = re.compile(r"[ \t]*(`{3,}|~{3,})")
_PARTIAL_MARKS = re.compile(r"[ \t]*(?:`{1,2}|~{1,2})?")
_TRAILING = re.compile(r"[ \t\r\f\v]*")
WS_CHARS = frozenset(" \t\n\r\f\v")
_REGIONAL = "".join(map(chr, range(0x1F1E6, 0x1F200)))
# Variation selectors, skin tones and emoji tags attach to the character before them.
_MODIFIERS = frozenset(
    "".join(map(chr, [*range(0xFE00, 0xFE10), *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)]))
)


@dataclass(frozen=True, slots=True)
class Fence:
    """An open fenced code block: its marker and the info string to reopen it with."""

    char: str
    count: int
    info: str

    @property
    def opener(self) -> str:
        # "~~~ ~~~" must not reopen as "~~~~~~", a longer fence with no info string.
        gap = " " if self.info.startswith(self.char) else ""
        return self.char * self.count + gap + self.info

    @property
    def close(self) -> str:
        return "\n" + self.char * self.count


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the window: where it begins, the block open after it, where it may be cut."""

    begin: int
    after: Fence | None  # block open once this line is done
    cut_from: int | None  # first offset where a mid-line cut is safe; None: nowhere
    opens: bool


def _end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a match of `pattern` at pos ends, or pos if it does not match."""
    m = pattern.match(text, pos)
    return m.end() if m else pos


def skip_ws(text: str, pos: int) -> int:
    return _end(WS, text, pos)


def scan_lines(
    text: str, start: int, hi: int, fence: Fence | None, line_start: bool, complete: bool
) -> list[Line]:
    """Classify the lines that begin in text[start:hi], tracking which block is open."""
    lines: list[Line] = []
    p, state, real = start, fence, line_start
    while True:
        line = _classify(text, p, state, real, complete)
        lines.append(line)
        state = line.after
        nl = text.find("\n", p, hi)
        if nl < 0:
            return lines
        p, real = nl + 1, True


def _classify(text: str, p: int, state: Fence | None, real: bool, complete: bool) -> Line:
    """Decide whether the line at p opens or closes a fence, and where it may be cut."""
    if not real:  # the rest of a line cut earlier, which was plain text
        return Line(p, state, p, False)
    m = _MARKS.match(text, p)
    if m is None:
        if not complete and _end(_PARTIAL_MARKS, text, p) == len(text):
            return Line(p, state, None, False)  # "``" may still grow into a fence
        return Line(p, state, p, False)
    marks = m.group(1)
    nl = text.find("\n", m.end())
    done = nl >= 0 or complete
    info = text[m.end() : nl if nl >= 0 else len(text)]
    if state is None:
        if marks[0] == "`" and "`" in info:
            # CommonMark: a backtick in the info string makes this inline code, not a
            # fence; cutting after that backtick keeps the head from becoming a fence.
            return Line(p, None, m.end() + info.index("`") + 1, False)
        if not done:
            return Line(p, None, None, False)
        return Line(p, Fence(marks[0], len(marks), info.strip()), None, True)
    if done and marks[0] == state.char and len(marks) >= state.count and not info.strip():
        return Line(p, None, None, False)
    return Line(p, state, None, False)  # looks like a fence: a mid-line cut could make it one


def closes_at(text: str, b: int, fence: Fence, complete: bool) -> bool | None:
    """Whether the line at b closes `fence`; None while the stream may still decide it."""
    m = _MARKS.match(text, b)
    if m is None:
        if not complete and _end(_PARTIAL_MARKS, text, b) == len(text):
            return None
        return False
    marks = m.group(1)
    t = _end(_TRAILING, text, m.end())
    if t == len(text) and not complete:
        return None
    if t < len(text) and text[t] != "\n":
        return False
    return marks[0] == fence.char and len(marks) >= fence.count


def may_open(text: str, b: int, complete: bool) -> bool:
    """Whether a part starting mid-line at b would begin with a fence marker."""
    c = text[b : b + 1]
    if c not in ("`", "~"):
        return not c and not complete
    return text.startswith(c * 3, b) or (not complete and len(text) - b < 3)


def splits_grapheme(text: str, e: int, lo: int) -> bool:
    """Whether a cut at e separates characters that render as one (emoji, accents, flags)."""
    prev, nxt = text[e - 1], text[e]
    if "\u200d" in (prev, nxt) or unicodedata.category(nxt) in ("Mn", "Mc", "Me"):
        return True
    if nxt in _MODIFIERS:
        return True
    if prev not in _REGIONAL or nxt not in _REGIONAL:
        return False
    # Flags pair up from the start of their run; the page start lo is a safe boundary.
    return (e - lo - len(text[lo:e].rstrip(_REGIONAL))) % 2 == 1
