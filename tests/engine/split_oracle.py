"""An oracle for split tests, written apart from bot.split: open fences, alignment, checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

WS = " \t\n\r\f\v"
_REOPENED = re.compile(r"[`~]{3,}[^\n]*\n")
_ADDED_CLOSE = re.compile(r"\n[`~]{3,}\Z")


def open_fence(part: str) -> str | None:
    """The fence still open at the end of `part` (an oracle written apart from bot.split)."""
    opened: str | None = None
    for line in part.split("\n"):
        m = re.match(r"[ \t]*(`{3,}|~{3,})(.*)", line)
        if m is None:
            continue
        marks, info = m.groups()
        if opened is None:
            if not (marks[0] == "`" and "`" in info):
                opened = marks
        elif marks[0] == opened[0] and len(marks) >= len(opened) and not info.strip():
            opened = None
    return opened


def aligns(text: str, parts: list[str]) -> bool:
    """Whether the parts, less fence lines added at cuts, are `text` less whitespace at cuts."""

    def cores(part: str) -> set[str]:
        heads = {part}
        if m := _REOPENED.match(part):
            heads.add(part[m.end() :])
        out = set(heads)
        for head in heads:
            if m := _ADDED_CLOSE.search(head):
                out.add(head[: m.start()])
        return {core for core in out if core.strip(WS)}  # an added fence never stands alone

    @cache
    def walk(i: int, pos: int) -> bool:
        if i == len(parts):
            return not text[pos:].strip(WS)
        for core in cores(parts[i]):
            k = pos
            while True:
                if text.startswith(core, k) and walk(i + 1, k + len(core)):
                    return True
                if k < len(text) and text[k] in WS:
                    k += 1
                else:
                    break
        return False

    return walk(0, 0)


def fence_lines_fit(text: str, limit: int) -> bool:
    """Whether every fence-looking line fits a part; a longer one cannot be kept whole."""
    return all(
        len(line) < limit // 2 for line in text.split("\n") if re.match(r"[ \t]*(```|~~~)", line)
    )


def check_parts(text: str, parts: list[str], limit: int, measure: Callable[[str], int]) -> None:
    assert all(measure(p) <= limit for p in parts), [measure(p) for p in parts]
    assert all(p.strip(WS) for p in parts)
    if open_fence(text) is None:
        assert [open_fence(p) for p in parts] == [None] * len(parts)
    else:
        assert [open_fence(p) for p in parts[:-1]] == [None] * (len(parts) - 1)
    assert aligns(text, parts)
    # Whitespace at a cut is dropped, so no part but the first starts with a blank line
    # and no part but the last ends in whitespace.
    assert not any(p.startswith("\n") for p in parts[1:])
    assert not any(p[-1] in WS for p in parts[:-1])
