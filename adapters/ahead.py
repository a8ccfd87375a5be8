"""A reply's events read ahead: each awaited with a timeout that never cancels the stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.types import ReplyEvent

END, LATER = object(), object()  # the stream ended; nothing came in time


class Ahead:
    """The reply's events, each awaited with an optional timeout that never cancels the stream.

    A timed-out read stays in flight and is picked up by the next call; only a read with
    a timeout costs a task, so a reply that is being shown pays nothing extra per piece.
    """

    def __init__(self, events: AsyncIterator[ReplyEvent]) -> None:
        self._events = events
        self._next: asyncio.Task[object] | None = None

    async def next(self, within: float | None) -> object:
        """The next event, END, or LATER when `within` seconds pass first."""
        if self._next is None:
            if within is None:
                return await _step(self._events)
            self._next = asyncio.create_task(_step(self._events))
        if within is not None:
            done, _ = await asyncio.wait({self._next}, timeout=within)
            if not done:
                return LATER
        task, self._next = self._next, None
        return await task

    async def close(self) -> None:
        """Stop a read still in flight (the stream's own cleanup runs in it)."""
        if self._next is not None and not self._next.done():
            self._next.cancel()
            with contextlib.suppress(BaseException):
                await self._next


async def _step(events: AsyncIterator[ReplyEvent]) -> object:
    try:
        return await anext(events)
    except StopAsyncIteration:
        return END
