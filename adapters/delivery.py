"""One delivery path for every platform: paging, the edit throttle, rendering, one error policy.

The vocabulary it shares with each platform's surface (Body, the errors, Policy) is in
adapters/surface.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Generic

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_random_exponential

from adapters.ahead import END, LATER, Ahead
from adapters.surface import (
    Body,
    ChatGone,
    Delivery,
    Feedback,
    H,
    PageGone,
    Policy,
    RateLimited,
    Rejected,
    Surface,
    Transient,
)
from bot.split import ReplyPager
from bot.types import Accepted, Attachment, Done, Outcome, ReplyEvent

# Surfaces, sessions and tests import the vocabulary from here, as before the split.
__all__ = [
    "DEFAULT_POLICY",
    "Body",
    "ChatGone",
    "Delivery",
    "Feedback",
    "PageGone",
    "Policy",
    "RateLimited",
    "Rejected",
    "Surface",
    "Transient",
    "deliver",
    "feedback",
]

log = logging.getLogger(__name__)

_TYPING_TASKS: set[asyncio.Task[None]] = set()  # strong references until each call ends


DEFAULT_POLICY = Policy()


async def deliver(
    events: AsyncIterator[ReplyEvent],
    surface: Surface[H],
    policy: Policy = DEFAULT_POLICY,
    into: Delivery[H] | None = None,
) -> Delivery[H]:
    """Stream a reply's events to `surface`; never raises but for cancellation.

    Progress edits go at most once per `policy.interval` and are skipped when the
    platform pushes back; the final text of each page waits out rate limits and retries
    transient errors with backoff and jitter until `policy.deadline`, and so does the
    reply's file, sent after its text. `into` is filled in as delivery goes, so a caller
    that is cancelled still knows how far it got.
    """
    reply = _Reply(surface, policy, into if into is not None else Delivery())
    typing = _Typing(surface)
    ahead = Ahead(events)
    loop = asyncio.get_running_loop()
    holding: float | None = None  # loop time until which the first words wait for more
    text = ""
    try:
        while (event := await ahead.next(_left(holding, loop))) is not END:
            if event is LATER:
                holding = None  # the answer is slow: show what there is, or "typing"
                await reply.progress(await reply.lay_out(text))
                if not reply.result.messages:
                    typing.start()
            elif isinstance(event, str):
                text += event
                if holding is not None and 2 * len(text) < surface.limit:
                    continue  # held back, and short of a page: nothing to lay out yet
                open_page = await reply.lay_out(text)
                if holding is None:
                    await reply.progress(open_page)
                if reply.result.messages:
                    typing.stop()  # the person sees text now
            elif isinstance(event, Accepted):
                if policy.first_wait > 0:
                    holding = loop.time() + policy.first_wait
                else:
                    typing.start()
            elif isinstance(event, Done):
                reply.result.done = event
        typing.stop()
        done = reply.result.done
        # No Done: nothing to say (a repeat), or the caller stopped the stream.
        if done is not None:
            if done.notice:
                text += ("\n\n" if text.strip() else "") + done.notice
            pages = reply.pager.finish(text)
            buttons = feedback(done)
            for n, page in enumerate(pages, 1):
                await reply.final(page, buttons if n == len(pages) else None)
            if buttons is not None and not pages:
                await reply.decorate(buttons)  # every page was final already: add them now
            if done.attachment is not None:
                await reply.attach(done.attachment)
            reply.result.delivered = True
    except ChatGone as exc:
        log.info("the chat is gone: %s", exc)
        reply.result.gone = True
        return reply.result
    except Exception as exc:
        log.warning("reply not delivered: %s", exc, exc_info=not _expected(exc))
        reply.result.broken = True
    finally:
        typing.stop()
        await ahead.close()
    try:
        await surface.finish(reply.result)
    except ChatGone:
        reply.result.gone = True
    except Exception as exc:
        log.warning("could not finish the reply: %s", exc)
    return reply.result


def feedback(done: Done) -> Feedback | None:
    """The buttons a finished reply gets: a model's answer that was recorded ok (or ↻ alone
    under a restart's note)."""
    ref = done.ref
    if done.outcome is Outcome.INTERRUPTED and ref is not None and ref.reply_id is None:
        # Only a restart's note carries such a Done: the engine's own interrupted turns
        # end with the stream closed, before their Done is ever delivered.
        return Feedback(ref.prompt_id, redo_only=True)
    if done.outcome is not Outcome.OK or ref is None or ref.reply_id is None:
        return None
    return Feedback(ref.reply_id)


def _left(until: float | None, loop: asyncio.AbstractEventLoop) -> float | None:
    return None if until is None else max(0.0, until - loop.time())


def _expected(exc: Exception) -> bool:
    return isinstance(exc, RateLimited | Transient | Rejected | PageGone)


class _Reply(Generic[H]):
    """One reply's pages on the platform; the edit throttle lives here, so it is per reply."""

    def __init__(self, surface: Surface[H], policy: Policy, result: Delivery[H]) -> None:
        self.surface = surface
        self.policy = policy
        self.pager = ReplyPager(max(64, surface.limit), surface.measure)
        self.result = result
        self._current: H | None = None  # the open page's message, once sent
        self._shown: Body | None = None  # what that message shows now
        self._last_put = float("-inf")
        self._quiet_until = float("-inf")  # after a 429 on a progress edit
        self._plain = False  # the platform refused this reply's formatting once
        self._deadline: float | None = None
        self._last: tuple[str, Body | None] | None = None  # the last final page, as shown

    async def lay_out(self, text: str) -> str:
        """Deliver the pages `text` has completed; the open page, still growing."""
        finals, open_page = self.pager.update(text)
        for page in finals:
            await self.final(page)
        return open_page

    async def progress(self, page: str) -> None:
        """Show the open page so far, unless this reply was edited under `interval` ago."""
        if not page.strip():
            return
        now = self.policy.clock()
        if now < self._quiet_until:
            return
        if self._current is not None and now - self._last_put < self.policy.interval:
            return
        try:
            await self._put(page)
        except RateLimited as exc:
            self._quiet_until = now + exc.retry_after
        except PageGone:
            self._current = self._shown = None  # the next put posts it anew
        except (Rejected, Transient) as exc:
            log.info("progress update skipped: %s", exc)

    async def final(self, page: str, buttons: Feedback | None = None) -> None:
        """Deliver a page's final text (with the answer's buttons on its last page), trying
        until the deadline; then close the page."""
        if page.strip():
            await self._persist(lambda: self._final_put(page, buttons), PageGone)
            self._last = (page, self._shown)
        self._current = self._shown = None

    async def decorate(self, buttons: Feedback) -> None:
        """Put the buttons on the last page, already delivered in full: one try, no more.

        The person has the whole answer already; a refused edit only leaves it without
        buttons (never a second copy of the page, never an answer counted as unseen).
        """
        if self._last is None or not self.result.messages:
            return
        page, shown = self._last
        body = replace(shown or Body(page), buttons=buttons)
        try:
            await self.surface.edit(self.result.messages[-1], body)
        except Exception as exc:
            log.info("could not add the buttons to a delivered answer: %s", exc)

    async def attach(self, file: Attachment) -> None:
        """Deliver the reply's file after its text, as persistently and within the same deadline."""
        await self._persist(lambda: self.surface.attach(file))
        self.result.attached = True

    async def _persist(self, call: Callable[[], Awaitable[None]], *also: type[Exception]) -> None:
        """`call()` until it succeeds: rate limits waited out, transient errors retried."""
        if self._deadline is None:
            # One deadline for the whole reply, from its first final write.
            self._deadline = self.policy.clock() + self.policy.deadline
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((RateLimited, Transient, *also)),
            wait=_Wait(),
            stop=self._past_deadline,
            sleep=self.policy.sleep,
            before_sleep=_log_retry,
            reraise=True,
        ):
            with attempt:
                await call()

    def _past_deadline(self, state: RetryCallState) -> bool:
        assert self._deadline is not None
        return self.policy.clock() + state.upcoming_sleep > self._deadline

    async def _final_put(self, page: str, buttons: Feedback | None) -> None:
        try:
            await self._put(page, buttons)
        except PageGone:
            log.warning("a page can no longer be edited; sending it as a new message")
            self._current = self._shown = None
            raise
        except Rejected:
            if self._current is None:
                raise  # a new message was refused, even as plain text
            # An edit refused for good may still go through as a new message.
            log.warning("final edit refused; sending the page as a new message")
            self._current = self._shown = None
            await self._put(page, buttons)

    async def _put(self, page: str, buttons: Feedback | None = None) -> None:
        """Send or edit the open page's message; refused formatting is retried as plain text."""
        plain = Body(page, buttons=buttons)
        body = plain if self._plain else replace(self.surface.render(page), buttons=buttons)
        if body == self._shown:
            return
        try:
            await self._write(body)
        except Rejected as exc:
            if body == plain or not body.entities:
                raise
            log.warning("the platform refused the formatted text (%s); sending plain text", exc)
            # The same Markdown would be refused again: stay plain for the rest of this reply.
            self._plain = True
            try:
                await self._write(plain)
            except Rejected:
                self._plain = False  # refused as plain text too: not the formatting's fault
                raise

    async def _write(self, body: Body) -> None:
        if self._current is None:
            self._current = await self.surface.send(body)
            self.result.messages.append(self._current)
        else:
            await self.surface.edit(self._current, body)
        self._shown = body
        self._last_put = self.policy.clock()


class _Wait:
    """The platform's retry-after for a rate limit; backoff with jitter for anything else."""

    def __init__(self) -> None:
        self._backoff = wait_random_exponential(multiplier=0.5, max=15.0)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return exc.retry_after
        if isinstance(exc, PageGone):
            return 0.0
        return float(self._backoff(state))


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0.0
    log.warning("final write not accepted (%s); retrying in %.1f s", exc, delay)


class _Typing:
    """Shows "typing" until the first page: one call every `typing_every` seconds.

    Stopping never cancels a call in flight: cancelling a request inside an SDK's rate
    limiter can leave its bucket looking empty (discord.py waits 30 s for the next call).
    """

    def __init__(self, surface: Surface[Any]) -> None:
        self._surface = surface
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and not self._stopped.is_set():
            self._task = asyncio.create_task(self._run(), name="typing")
            _TYPING_TASKS.add(self._task)
            self._task.add_done_callback(_TYPING_TASKS.discard)

    def stop(self) -> None:
        self._stopped.set()

    async def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self._surface.typing()
            except ChatGone:
                return
            except Exception as exc:  # only a courtesy: the reply may still go through
                log.debug("typing signal failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self._surface.typing_every)
