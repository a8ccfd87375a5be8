"""Streams one reply into Telegram messages: typing, first send, throttled edits, 4096-unit pages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import telegramify_markdown

from bot.split import ReplyPager

log = logging.getLogger(__name__)

LIMIT = 4096  # Telegram's message limit, in UTF-16 code units
# Pages are cut on the Markdown; rendering mostly removes markup but a heading icon or a
# rule can add a few units, so leave room. A page that still renders too long goes plain.
MARGIN = 96
TYPING_EVERY = 4.5  # Telegram shows "typing" for ~5 s per action
# A page's final text waits out flood control for up to this long (Telegram can ask for
# minutes in a busy group); network errors are retried a few times only.
FINAL_BUDGET = 600.0
TRANSIENT_ATTEMPTS = 6


def utf16_len(text: str) -> int:
    return telegramify_markdown.utf16_len(text)


@dataclass(frozen=True, slots=True)
class Body:
    """A message body as Telegram takes it: plain text plus Bot API entity dicts."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


class RateLimited(Exception):
    """Telegram said 429: wait `retry_after` seconds before the next call to this chat."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class Rejected(Exception):
    """Telegram refused the call (a 400 such as "can't parse entities", a 403, ...)."""


class Transient(Exception):
    """A network error or timeout: the same call may succeed if tried again."""


class ChatSink(Protocol):
    """Where one reply goes: a chat (and topic) on the platform, wrapped by the adapter.

    Implementations translate platform errors into RateLimited, Rejected and Transient,
    and treat "message is not modified" as success.
    """

    async def typing(self) -> None: ...

    async def send(self, body: Body) -> int: ...

    async def edit(self, message_id: int, body: Body) -> None: ...


def render(markdown: str) -> Body:
    """Model Markdown as text + entities; the Markdown itself when rendering fails or grows."""
    try:
        text, entities = telegramify_markdown.convert(markdown)
    except Exception:  # a renderer bug must never cost the user the reply
        log.warning("markdown rendering failed; sending plain text", exc_info=True)
        return Body(markdown)
    if not text.strip() or utf16_len(text) > LIMIT:
        return Body(markdown)
    return Body(text, tuple(e.to_dict() for e in entities))


class ReplyStream:
    """Delivers one streamed reply. The edit throttle lives here, so it is per reply."""

    def __init__(
        self,
        sink: ChatSink,
        *,
        interval: float = 1.0,
        limit: int = LIMIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sink = sink
        self.interval = interval
        self.pager = ReplyPager(max(64, limit - MARGIN), measure=utf16_len)
        self.clock = clock
        self.sleep = sleep
        self.message_ids: list[int] = []
        self._current: int | None = None  # the open page's message, once sent
        self._shown: Body | None = None  # what the open page's message shows now
        self._last_put = float("-inf")
        self._quiet_until = float("-inf")  # after a 429 on a progress edit
        self._plain = False  # Telegram refused this reply's formatting once

    async def run(self, pieces: AsyncIterator[str]) -> list[int]:
        """Consume `pieces` to the end and leave every page showing its final text."""
        typing = asyncio.create_task(self._keep_typing())
        text, open_page = "", ""
        try:
            while True:
                try:
                    piece = await anext(pieces)
                except StopAsyncIteration:
                    break
                except Exception:
                    # The reply broke off: leave what arrived on screen, not a stale edit.
                    typing.cancel()
                    await self._finish_quietly(open_page)
                    raise
                text += piece
                finals, open_page = self.pager.update(text)
                for page in finals:
                    await self._finish(page)
                await self._progress(open_page)
                if self.message_ids:
                    typing.cancel()  # the user sees text now
            typing.cancel()
            await self._finish(open_page)
        finally:
            typing.cancel()
        return self.message_ids

    async def _keep_typing(self) -> None:
        while True:
            try:
                await self.sink.typing()
            except (RateLimited, Rejected, Transient) as exc:
                log.debug("typing action failed: %s", exc)
            await asyncio.sleep(TYPING_EVERY)

    async def _progress(self, page: str) -> None:
        """Show the open page so far, unless this reply edited less than `interval` ago."""
        if not page.strip():
            return
        now = self.clock()
        if now < self._quiet_until:
            return
        if self._current is not None and now - self._last_put < self.interval:
            return
        try:
            await self._put(page)
        except RateLimited as exc:
            self._quiet_until = now + exc.retry_after
        except (Rejected, Transient) as exc:
            log.info("progress update skipped: %s", exc)

    async def _finish(self, page: str) -> None:
        """Deliver the final text of a page, waiting out flood control; then close the page."""
        if page.strip():
            await self._deliver(page)
        self._current, self._shown = None, None

    async def _finish_quietly(self, page: str) -> None:
        try:
            await self._finish(page)
        except (RateLimited, Rejected, Transient) as exc:
            log.warning("could not finish a cut-off reply: %s", exc)

    async def _deliver(self, page: str) -> None:
        deadline = self.clock() + FINAL_BUDGET
        failures = 0
        while True:
            try:
                await self._put(page)
                return
            except RateLimited as exc:
                if self.clock() + exc.retry_after > deadline:
                    raise
                await self.sleep(exc.retry_after)
            except Transient:
                failures += 1
                if failures >= TRANSIENT_ATTEMPTS:
                    raise
                await self.sleep(min(0.5 * 2**failures, 8.0))
            except Rejected as exc:
                if self._current is None:
                    raise  # a new message was refused, even as plain text
                # The message was deleted or is too old to edit: the rest goes in a new one.
                log.warning("final edit refused (%s); sending the page as a new message", exc)
                self._current, self._shown = None, None

    async def _put(self, page: str) -> None:
        """Send or edit the open page's message; a refused rendering is retried as plain text."""
        body = Body(page) if self._plain else render(page)
        if body == self._shown:
            return
        try:
            await self._write(body)
        except Rejected as exc:
            if self._plain or body == Body(page):
                raise
            log.warning("Telegram refused the formatted text (%s); sending plain text", exc)
            # The same Markdown would be refused again: stay plain for the rest of this reply.
            self._plain = True
            try:
                await self._write(Body(page))
            except Rejected:
                self._plain = False  # refused as plain text too: not the formatting's fault
                raise

    async def _write(self, body: Body) -> None:
        if self._current is None:
            self._current = await self.sink.send(body)
            self.message_ids.append(self._current)
        else:
            await self.sink.edit(self._current, body)
        self._shown = body
        self._last_put = self.clock()
