"""Split long replies into platform-sized parts without breaking fenced code blocks."""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Measure = Callable[[str], int]

_WS = re.compile(r"[ \t\n\r\f\v]+")
_MARKS = re.compile(r"[ \t]*(`{3,}|~{3,})")
_PARTIAL_MARKS = re.compile(r"[ \t]*(?:`{1,2}|~{1,2})?")
_TRAILING = re.compile(r"[ \t\r\f\v]*")
_WS_CHARS = frozenset(" \t\n\r\f\v")
_REGIONAL = "".join(map(chr, range(0x1F1E6, 0x1F200)))
# Variation selectors, skin tones and emoji tags attach to the character before them.
_MODIFIERS = frozenset(
    "".join(map(chr, [*range(0xFE00, 0xFE10), *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)]))
)
# A code line keeps its indentation after a cut, unless the indent alone would crowd a part.
_MAX_INDENT = 100
# How far a hard cut may back off to avoid splitting an emoji or starting a fake fence.
_HARD_BACKOFF = 64
# Break ranks, best first.
_END, _PARA, _LINE, _PARA_CODE, _LINE_CODE, _SPACE, _SPACE_CODE = range(7)


def utf16_len(s: str) -> int:
    """Return the length of `s` in UTF-16 code units, the way Telegram counts its limit."""
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def split_message(text: str, limit: int, measure: Measure = len) -> list[str]:
    """Split `text` into parts with measure(part) <= limit, closing and reopening code fences.

    Cuts go at a blank line, else a line break, else a space, else mid-word (never inside
    a character or an emoji sequence); a better break in the first half of a part loses to
    a poorer one in the second half, so no part is needlessly short. A code block that fits
    a part is moved whole to the next one. Only whitespace at a cut is dropped; text that
    fits comes back unchanged. Raises ValueError if a single character cannot fit.
    """
    return ReplyPager(limit, measure).finish(text)


@dataclass(frozen=True, slots=True)
class _Fence:
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
class _Line:
    begin: int
    after: _Fence | None  # block open once this line is done
    cut_from: int | None  # first offset where a mid-line cut is safe; None: nowhere
    opens: bool


@dataclass(frozen=True, slots=True)
class _Candidate:
    rank: int
    end: int
    fence: _Fence | None
    preferred: bool  # fills at least half the part, or keeps the next code block whole


@dataclass(frozen=True, slots=True)
class _Cut:
    part: str | None  # None: only whitespace was dropped
    end: int  # the whitespace to drop starts here
    fence: _Fence | None
    keep_indent: bool


class ReplyPager:
    """Turns a growing reply into final pages plus one open page, each within `limit`.

    Feed the whole reply so far to update() after each chunk: send or finish the final
    pages, and edit the live message to show the open page. Final pages never change.
    The open page is "" while it would hold only whitespace (right after a cut): keep the
    live message as it is then. `measure` must not shrink as a string grows.
    """

    def __init__(self, limit: int, measure: Measure = len) -> None:
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        self._limit = limit
        self._measure = measure
        self._start = 0
        self._fence: _Fence | None = None
        self._line_start = True
        self._pending = False  # whitespace after the last cut not yet skipped
        self._cut_end = 0
        self._scan = 0
        self._keep_indent = False
        self._carry_line_start = False
        self._seen = 0
        self._done = False
        self._reopen_cache: dict[_Fence, str] = {}

    def update(self, text_so_far: str) -> tuple[list[str], str]:
        """Return the pages that just became final and the current open page."""
        self._accept(text_so_far)
        pages = self._advance(text_so_far, complete=False)
        return pages, self._open(text_so_far)

    def finish(self, text: str) -> list[str]:
        """Return the remaining pages once the reply is complete."""
        self._accept(text)
        self._done = True
        pages = self._advance(text, complete=True)
        last = self._open(text)
        return [*pages, last] if last else pages

    def _accept(self, text: str) -> None:
        if self._done:
            raise RuntimeError("ReplyPager.finish() was already called")
        if len(text) < self._seen:
            raise ValueError("the reply may only grow")
        self._seen = len(text)

    def _open(self, text: str) -> str:
        if self._pending or self._start >= len(text):
            return ""
        return self._reopen(self._fence) + text[self._start :]

    def _advance(self, text: str, complete: bool) -> list[str]:
        pages: list[str] = []
        while True:
            if self._pending and not self._resolve(text, complete):
                break
            if self._start >= len(text):
                break
            cut = self._plan(text, complete)
            if cut is None:
                break
            if cut.part is not None:
                pages.append(cut.part)
            self._carry_line_start = cut.part is None and self._line_start
            self._fence = cut.fence
            self._pending = True
            self._cut_end = self._scan = cut.end
            self._keep_indent = cut.keep_indent
        return pages

    def _resolve(self, text: str, complete: bool) -> bool:
        """Skip the whitespace after a cut; False while the stream may still add to it."""
        b = _skip_ws(text, self._scan)
        self._scan = b
        if b >= len(text) and not complete:
            return False
        nl = text.rfind("\n", self._cut_end, b)
        self._start = b
        if self._fence is not None and self._keep_indent and nl >= 0 and b - nl - 1 <= _MAX_INDENT:
            self._start = nl + 1  # indentation is meaningful in code
        self._line_start = nl >= 0 or self._carry_line_start
        self._pending = False
        return True

    def _reopen(self, fence: _Fence | None) -> str:
        """The line that reopens `fence` at the top of a part, shortened if it would crowd it."""
        if fence is None:
            return ""
        if fence not in self._reopen_cache:
            chosen = ""
            for line in (fence.opener, fence.char * fence.count):
                if self._measure(line + "\n" + fence.close) <= self._limit // 2:
                    chosen = line + "\n"
                    break
            self._reopen_cache[fence] = chosen
        return self._reopen_cache[fence]

    def _max_fit(self, text: str, start: int, prefix: str, suffix: str, upper: int) -> int:
        """Largest e <= upper with prefix + text[start:e] + suffix within the limit, or start-1."""

        def fits(e: int) -> bool:
            return self._measure(prefix + text[start:e] + suffix) <= self._limit

        if not fits(start):
            return start - 1
        # Gallop from one limit's worth so a fitting open page costs one measure call.
        lo, step = start, self._limit
        hi = min(upper, start + step)
        while fits(hi):
            if hi == upper:
                return hi
            lo, step = hi, step * 2
            hi = min(upper, start + step)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def _plan(self, text: str, complete: bool) -> _Cut | None:
        """Choose where the open page ends, or None if it fits."""
        n, start, fence = len(text), self._start, self._fence
        prefix = self._reopen(fence)
        hi = self._max_fit(text, start, prefix, "", n)
        if hi >= n:
            return None
        first = _skip_ws(text, start)
        if first > start and first >= hi:
            return _Cut(None, start, fence, keep_indent=False)
        if hi <= start:
            raise ValueError(f"limit {self._limit} cannot hold {text[start]!r}")
        lines = _scan_lines(text, start, hi, fence, self._line_start, complete)
        begins = [line.begin for line in lines]

        def line_at(pos: int) -> _Line:
            return lines[bisect.bisect_right(begins, pos) - 1]

        fits_closed: dict[_Fence, int] = {}

        def fits_with(state: _Fence | None, end: int) -> bool:
            if state is None:
                return end <= hi
            if state not in fits_closed:
                fits_closed[state] = self._max_fit(text, start, prefix, state.close, hi)
            return end <= fits_closed[state]

        def cut(end: int, state: _Fence | None, close: bool = True) -> _Cut:
            suffix = state.close if state is not None and close else ""
            return _Cut(prefix + text[start:end] + suffix, end, state, keep_indent=True)

        cands = self._candidates(text, start, hi, lines, line_at, fits_with, complete)
        if cands:
            best = min(cands, key=lambda c: (not c.preferred, c.rank, -c.end))
            return cut(best.end, best.fence, close=best.rank != _END)
        for e in range(hi, max(first, hi - _HARD_BACKOFF), -1):
            if text[e - 1] in _WS_CHARS or text[e] in _WS_CHARS:
                continue
            line = line_at(e - 1)
            if line.cut_from is None or e < line.cut_from or _may_open(text, e, complete):
                continue
            if not _splits_grapheme(text, e, start) and fits_with(line.after, e):
                return cut(e, line.after)
        # Only pathological input gets here (a fence line or an indent longer than a part).
        log.debug("forced cut at %d of %d", hi, n)
        for e in range(hi, first, -1):
            state = line_at(e - 1).after
            if fits_with(state, e):
                return cut(e, state)
        return cut(hi, line_at(hi - 1).after, close=False)

    def _candidates(
        self,
        text: str,
        start: int,
        hi: int,
        lines: list[_Line],
        line_at: Callable[[int], _Line],
        fits_with: Callable[[_Fence | None, int], bool],
        complete: bool,
    ) -> list[_Candidate]:
        """Every whitespace run where the page may end, ranked."""
        n = len(text)
        zone = start + (hi - start) // 2
        keep_block = self._block_to_keep(text, start, lines, complete)
        found: list[_Candidate] = []
        for m in _WS.finditer(text, start, hi + 1):
            a, b = m.start(), m.end()
            if a == start:
                continue
            if b == hi + 1:
                b = _skip_ws(text, b)
            if b == n and complete:
                found.append(_Candidate(_END, a, None, True))
                continue
            line = line_at(a - 1)
            state = line.after
            newlines = text.count("\n", a, b)
            if not newlines:
                if b == n or line.cut_from is None or a < line.cut_from:
                    continue
                if _may_open(text, b, complete):
                    continue
            # Cutting right after the opener or right before the closer leaves an empty block.
            elif state is not None and (
                line.opens or b == n or _closes_at(text, b, state, complete) is not False
            ):
                continue
            if not fits_with(state, a):
                continue
            code = state is not None
            if newlines >= 2:
                rank = _PARA_CODE if code else _PARA
            elif newlines == 1:
                rank = _LINE_CODE if code else _LINE
            else:
                rank = _SPACE_CODE if code else _SPACE
            preferred = a >= zone or (keep_block is not None and a < keep_block <= b)
            found.append(_Candidate(rank, a, state, preferred))
        return found

    def _block_to_keep(
        self, text: str, start: int, lines: list[_Line], complete: bool
    ) -> int | None:
        """Where the code block still open at the window's end starts, if it fits in a part."""
        if lines[-1].after is None:
            return None
        opener = next((line for line in reversed(lines) if line.opens), None)
        if opener is None or opener.begin <= start or opener.after is None:
            return None
        fence, n = opener.after, len(text)
        cap = self._max_fit(text, opener.begin, "", "", n)
        if cap >= n:
            return opener.begin
        p = opener.begin
        while (nl := text.find("\n", p, cap)) >= 0:
            p = nl + 1
            if _closes_at(text, p, fence, complete):
                end = text.find("\n", p)
                return opener.begin if (n if end < 0 else end) <= cap else None
        return None


def _end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a match of `pattern` at pos ends, or pos if it does not match."""
    m = pattern.match(text, pos)
    return m.end() if m else pos


def _skip_ws(text: str, pos: int) -> int:
    return _end(_WS, text, pos)


def _scan_lines(
    text: str, start: int, hi: int, fence: _Fence | None, line_start: bool, complete: bool
) -> list[_Line]:
    """Classify the lines that begin in text[start:hi], tracking which block is open."""
    lines: list[_Line] = []
    p, state, real = start, fence, line_start
    while True:
        line = _classify(text, p, state, real, complete)
        lines.append(line)
        state = line.after
        nl = text.find("\n", p, hi)
        if nl < 0:
            return lines
        p, real = nl + 1, True


def _classify(text: str, p: int, state: _Fence | None, real: bool, complete: bool) -> _Line:
    """Decide whether the line at p opens or closes a fence, and where it may be cut."""
    if not real:  # the rest of a line cut earlier, which was plain text
        return _Line(p, state, p, False)
    m = _MARKS.match(text, p)
    if m is None:
        if not complete and _end(_PARTIAL_MARKS, text, p) == len(text):
            return _Line(p, state, None, False)  # "``" may still grow into a fence
        return _Line(p, state, p, False)
    marks = m.group(1)
    nl = text.find("\n", m.end())
    done = nl >= 0 or complete
    info = text[m.end() : nl if nl >= 0 else len(text)]
    if state is None:
        if marks[0] == "`" and "`" in info:
            # CommonMark: a backtick in the info string makes this inline code, not a
            # fence; cutting after that backtick keeps the head from becoming a fence.
            return _Line(p, None, m.end() + info.index("`") + 1, False)
        if not done:
            return _Line(p, None, None, False)
        return _Line(p, _Fence(marks[0], len(marks), info.strip()), None, True)
    if done and marks[0] == state.char and len(marks) >= state.count and not info.strip():
        return _Line(p, None, None, False)
    return _Line(p, state, None, False)  # looks like a fence: a mid-line cut could make it one


def _closes_at(text: str, b: int, fence: _Fence, complete: bool) -> bool | None:
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


def _may_open(text: str, b: int, complete: bool) -> bool:
    """Whether a part starting mid-line at b would begin with a fence marker."""
    c = text[b : b + 1]
    if c not in ("`", "~"):
        return not c and not complete
    return text.startswith(c * 3, b) or (not complete and len(text) - b < 3)


def _splits_grapheme(text: str, e: int, lo: int) -> bool:
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
