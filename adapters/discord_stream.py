"""Streams an engine reply into Discord messages: throttled edits, 2000-char pages, sure delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from bot.split import ReplyPager, utf16_len

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000


# Discord counts UTF-16 code units, never fewer than Python's `len`.
discord_length = utf16_len


class PageGone(Exception):
    """The message can no longer be edited (deleted, or its interaction expired)."""


class Page(Protocol):
    """One message already on Discord that the stream may still edit."""

    async def edit(self, text: str) -> None:
        """Replace the page's text; raise PageGone when it can't ever be edited again."""


class Surface(Protocol):
    """Where a reply goes: a reply to a message, or an interaction's response."""

    async def begin(self) -> None:
        """Show that an answer is coming (typing, or a deferred "thinking" response)."""

    async def send(self, text: str) -> Page:
        """Post the next page: the first is the reply itself, the rest continue it."""
        ...

    async def end(self, delivered: bool) -> None:
        """Stop the waiting signal; `delivered` is False when nothing was posted."""


class _Pages:
    """Keeps what is shown on Discord in step with the text so far, page by page."""

    def __init__(self, surface: Surface, limit: int, measure: Callable[[str], int]) -> None:
        self._surface = surface
        self._pager = ReplyPager(limit, measure)
        self._final: list[str] = []
        self._open = ""
        self.sent: list[Page] = []
        self.shown: list[str] = []

    def update(self, text: str) -> None:
        done, self._open = self._pager.update(text)
        self._final.extend(done)

    def finish(self, text: str) -> None:
        self._final.extend(self._pager.finish(text))
        self._open = ""

    async def render(self) -> None:
        # Blank pages are skipped: Discord refuses empty messages.
        wanted = [p for p in (*self._final, self._open) if p.strip()]
        for i, content in enumerate(wanted):
            if i >= len(self.sent):
                self.sent.append(await self._surface.send(content))
                self.shown.append(content)
            elif self.shown[i] != content:
                try:
                    await self.sent[i].edit(content)
                except PageGone:
                    # Post the page anew rather than lose it.
                    log.warning("page %d is gone; sending it as a new message", i + 1)
                    self.sent[i] = await self._surface.send(content)
                self.shown[i] = content


async def deliver(
    pieces: AsyncIterator[str],
    surface: Surface,
    *,
    interval: float = 1.0,
    limit: int = MESSAGE_LIMIT,
    measure: Callable[[str], int] = discord_length,
    retries: int = 3,
    retry_delay: float = 0.5,
    failure: str = "",
) -> str:
    """Stream `pieces` to `surface`, editing at most once per `interval`; return the full text.

    The last render is retried (with growing sleeps) so the final text always lands,
    even when an interim edit failed or was skipped. When the stream raises before any
    text, `failure` is shown instead, so the user never meets silence.
    """
    pages = _Pages(surface, limit, measure)
    text = ""
    changed, done = asyncio.Event(), asyncio.Event()

    async def pump() -> None:
        nonlocal text
        try:
            async for piece in pieces:
                text += piece
                changed.set()
        except Exception:
            # The engine answers errors itself; this is a bug, but keep what we have.
            log.exception("reply stream failed")
            if not text.strip():
                text = failure
        finally:
            done.set()
            changed.set()

    await surface.begin()
    task = asyncio.create_task(pump())
    try:
        while True:
            await changed.wait()
            changed.clear()
            if done.is_set():
                break
            pages.update(text)
            try:
                await pages.render()
            except Exception as exc:
                # An interim edit may fail (rate limit, network): the final render catches up.
                log.warning("interim edit failed: %s", exc)
            # One edit per interval per reply; wake early only when the stream ends.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval)
        pages.finish(text)
        for attempt in range(retries + 1):
            try:
                await pages.render()
                break
            except Exception as exc:
                if attempt == retries:
                    log.error("final text not delivered after %d attempts: %s", attempt + 1, exc)
                    break
                log.warning("final render failed (%s); retrying", exc)
                await asyncio.sleep(retry_delay * 2**attempt)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await surface.end(bool(pages.sent))
    return text
