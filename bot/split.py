"""Split long replies into platform-sized parts without breaking fenced code blocks."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.fences import (
    WS,
    WS_CHARS,
    Fence,
    Line,
    closes_at,
    may_open,
    scan_lines,
    skip_ws,
    splits_grapheme,
)

log = logging.getLogger(__name__)

Measure = Callable[[str], int]

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
class _Candidate:
    rank: int
    end: int
    fence: Fence | None
    preferred: bool  # fills at least half the part, or keeps the next code block whole


@dataclass(frozen=True, slots=True)
class _Cut:
    part: str | None  # None: only whitespace was dropped
    end: int  # the whitespace to drop starts here
    fence: Fence | None
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
        self._fence: Fence | None = None
        self._line_start = True
        self._pending = False  # whitespace after the last cut not yet skipped
        self._cut_end = 0
        self._scan = 0
        self._keep_indent = False
        self._carry_line_start = False
        self._seen = 0
        self._done = False
        self._reopen_cache: dict[Fence, str] = {}

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
        b = skip_ws(text, self._scan)
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

    def _reopen(self, fence: Fence | None) -> str:
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
        first = skip_ws(text, start)
        if first > start and first >= hi:
            return _Cut(None, start, fence, keep_indent=False)
        if hi <= start:
            raise ValueError(f"limit {self._limit} cannot hold {text[start]!r}")
        lines = scan_lines(text, start, hi, fence, self._line_start, complete)
        begins = [line.begin for line in lines]

        def line_at(pos: int) -> Line:
            return lines[bisect.bisect_right(begins, pos) - 1]

        fits_closed: dict[Fence, int] = {}

        def fits_with(state: Fence | None, end: int) -> bool:
            if state is None:
                return end <= hi
            if state not in fits_closed:
                fits_closed[state] = self._max_fit(text, start, prefix, state.close, hi)
            return end <= fits_closed[state]

        def cut(end: int, state: Fence | None, close: bool = True) -> _Cut:
            suffix = state.close if state is not None and close else ""
            return _Cut(prefix + text[start:end] + suffix, end, state, keep_indent=True)

        cands = self._candidates(text, start, hi, lines, line_at, fits_with, complete)
        if cands:
            best = min(cands, key=lambda c: (not c.preferred, c.rank, -c.end))
            return cut(best.end, best.fence, close=best.rank != _END)
        for e in range(hi, max(first, hi - _HARD_BACKOFF), -1):
            if text[e - 1] in WS_CHARS or text[e] in WS_CHARS:
                continue
            line = line_at(e - 1)
            if line.cut_from is None or e < line.cut_from or may_open(text, e, complete):
                continue
            if not splits_grapheme(text, e, start) and fits_with(line.after, e):
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
        lines: list[Line],
        line_at: Callable[[int], Line],
        fits_with: Callable[[Fence | None, int], bool],
        complete: bool,
    ) -> list[_Candidate]:
        """Every whitespace run where the page may end, ranked."""
        n = len(text)
        zone = start + (hi - start) // 2
        keep_block = self._block_to_keep(text, start, lines, complete)
        found: list[_Candidate] = []
        for m in WS.finditer(text, start, hi + 1):
            a, b = m.start(), m.end()
            if a == start:
                continue
            if b == hi + 1:
                b = skip_ws(text, b)
            if b == n and complete:
                found.append(_Candidate(_END, a, None, True))
                continue
            line = line_at(a - 1)
            state = line.after
            newlines = text.count("\n", a, b)
            if not newlines:
                if b == n or line.cut_from is None or a < line.cut_from:
                    continue
                if may_open(text, b, complete):
                    continue
            # Cutting right after the opener or right before the closer leaves an empty block.
            elif state is not None and (
                line.opens or b == n or closes_at(text, b, state, complete) is not False
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
        self, text: str, start: int, lines: list[Line], complete: bool
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
            if closes_at(text, p, fence, complete):
                end = text.find("\n", p)
                return opener.begin if (n if end < 0 else end) <= cap else None
        return None
