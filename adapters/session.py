"""Every platform's inbound path: the place in line, delivery, the fallback notice, the drain."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import replace
from typing import Any, Protocol

from adapters.delivery import (
    DEFAULT_POLICY,
    Body,
    ChatGone,
    Delivery,
    Policy,
    Surface,
    deliver,
)
from adapters.observe import Observer, Watch
from bot.i18n import t
from bot.types import (
    Accepted,
    CommandCall,
    ConversationKey,
    IncomingMessage,
    Outcome,
    Rated,
    ReplyEvent,
    TurnRef,
)

log = logging.getLogger(__name__)

# A chat that refused the bot is remembered this long (or until it writes again).
GONE_FOR = 3600.0
# A group that refused the bot may still send it messages (the bot muted, a permission
# lost): a later message first probes with one "typing" call, and after a refused probe
# the next waits this long, so a storm of mentions costs no model calls and few requests.
REPROBE_AFTER = 60.0
# How long a button press may wait for the store before it is answered anyway.
PRESS_WAIT = 5.0


class Conversations(Protocol):
    """What a session needs of the engine (bot.engine.Engine), so tests can fake it."""

    def in_order(self, key: ConversationKey) -> AbstractAsyncContextManager[None]: ...

    def answer(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]: ...

    async def undelivered(self, ref: TurnRef) -> None: ...

    async def delivered(self, ref: TurnRef) -> None: ...

    async def language(self, msg: IncomingMessage) -> str: ...

    async def rate(
        self, msg: IncomingMessage, reply_id: int | None, rating: int | None, reason: str = ""
    ) -> tuple[Rated, str]: ...

    async def may_redo(self, msg: IncomingMessage, reply_id: int) -> tuple[Rated, str]: ...


class Session:
    """Hands each message to the engine in its line and delivers the reply; drains on stop."""

    def __init__(
        self,
        engine: Conversations,
        policy: Policy = DEFAULT_POLICY,
        *,
        grace: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        observer: Observer | None = None,
        reprobe_after: float = REPROBE_AFTER,
    ) -> None:
        self.engine = engine
        self.observer = observer  # the per-reply log line and metrics
        self.policy = policy
        self.grace = grace
        self.clock = clock
        self.accepting = True
        self._inflight: set[asyncio.Task[Any]] = set()
        # (platform, chat) -> when it refused the bot: no model call for what was waiting.
        self._gone: dict[tuple[str, str], float] = {}
        self.reprobe_after = reprobe_after
        self._probed: dict[tuple[str, str], float] = {}  # when a probe was last refused

    async def rate(
        self, msg: IncomingMessage, reply_id: int, rating: int | None, reason: str = ""
    ) -> tuple[Rated, str]:
        """A feedback button pressed on answer `reply_id` (👍 1, 👎 -1): whether it counted,
        and the short localised line to show the person who pressed it."""
        try:
            # A press must be answered within seconds: a store stuck behind a long write
            # gets the error line rather than a spinner that never stops.
            async with asyncio.timeout(PRESS_WAIT):
                return await self.engine.rate(msg, reply_id, rating, reason)
        except Exception:
            log.exception("could not store a %s rating", msg.key.platform)
            return Rated.GONE, t("internal_error", await self.engine.language(msg))

    async def may_redo(self, msg: IncomingMessage, reply_id: int) -> tuple[Rated, str]:
        """Whether ↻ on `reply_id` would regenerate it; if not, the line for the presser."""
        try:
            async with asyncio.timeout(PRESS_WAIT):
                return await self.engine.may_redo(msg, reply_id)
        except Exception:
            log.exception("could not check a %s regenerate", msg.key.platform)
            return Rated.GONE, t("internal_error", await self.engine.language(msg))

    @property
    def busy(self) -> int:
        """Replies in flight."""
        return len(self._inflight)

    async def handle(self, msg: IncomingMessage, surface: Surface[Any]) -> Delivery[Any] | None:
        """Answer one message; call it before any other await on the message's behalf."""
        if not self.accepting:
            return None
        task = asyncio.current_task()
        assert task is not None
        arrived = self.clock()
        self._inflight.add(task)
        watch = Watch(msg.key, arrived, self.clock)
        try:
            # The first await: the place in line is taken before anything else can run.
            async with self.engine.in_order(msg.key):
                return await self._answer(_greeting(msg), surface, arrived, watch)
        except Exception:
            # Nothing a person sends may take the process down.
            log.exception("could not answer a %s message", msg.key.platform)
            return None
        finally:
            self._inflight.discard(task)
            if self.observer is not None:  # here: a reply cut short is reported too
                self.observer.finished(watch)

    async def _answer(
        self, msg: IncomingMessage, surface: Surface[Any], arrived: float, watch: Watch
    ) -> Delivery[Any]:
        where = (msg.key.platform, msg.key.chat_id)
        silent = await self._still_gone(msg, where, surface, arrived)
        result: Delivery[Any] = Delivery()
        watch.result = result
        answer = watch.events(self.engine.answer(msg))
        async with aclosing(self._unless_gone(answer, where, arrived, silent)) as events:
            try:
                await deliver(events, surface, self.policy, into=result)
            except asyncio.CancelledError:
                # The drain's grace ran out while the final text was still on its way.
                await self._unseen(result)
                raise
        if result.gone:
            self._mark_gone(where)
        await self._unseen(result)
        if (stored := _stored_reply(result)) is not None and result.delivered:
            await self.engine.delivered(stored)  # what the person saw may now be remembered
        lost_file = result.done is not None and result.done.attachment and not result.attached
        if result.broken and (not result.messages or lost_file):
            # Say something rather than stay silent, or leave "in the attached file" unsent.
            await self._notice(msg, surface)
        return result

    async def _unseen(self, result: Delivery[Any]) -> None:
        """A stored reply the platform never took in full is never fed back as context."""
        if (stored := _stored_reply(result)) is not None and not result.delivered:
            await self.engine.undelivered(stored)

    async def _still_gone(
        self, msg: IncomingMessage, where: tuple[str, str], surface: Surface[Any], arrived: float
    ) -> bool:
        """Whether a message that came after its chat refused the bot stays unanswered."""
        gone = self._gone.get(where)
        if gone is None or gone >= arrived:
            return False  # not gone; or it refused while this one waited: _unless_gone
        if not msg.is_direct:
            probed = self._probed.get(where)
            if probed is not None and self.clock() - probed < self.reprobe_after:
                return True
            try:
                await surface.typing()  # cheap, and refused just as a message would be
            except ChatGone:
                self._mark_gone(where)
                self._probed[where] = self.clock()
                return True
            except Exception as exc:  # not a refusal: let the answer find out
                log.info("probing a %s chat that refused the bot failed: %s", where[0], exc)
        # It takes the bot's messages again (a person writing has unblocked it).
        self._gone.pop(where, None)
        self._probed.pop(where, None)
        return False

    async def _unless_gone(
        self,
        events: AsyncGenerator[ReplyEvent, None],
        where: tuple[str, str],
        arrived: float,
        silent: bool = False,
    ) -> AsyncGenerator[ReplyEvent, None]:
        """The engine's events, stopped before the model is asked if the chat went away."""
        async with aclosing(events):
            async for event in events:
                gone = silent or self._gone.get(where, -1.0) >= arrived
                if isinstance(event, Accepted) and gone:
                    log.info("not answering a %s chat that refused the bot", where[0])
                    return  # closing the engine's stream settles the turn as interrupted
                yield event

    def _mark_gone(self, where: tuple[str, str]) -> None:
        now = self.clock()
        if len(self._gone) > 1000:  # bounded: forget chats that refused long ago
            self._gone = {k: v for k, v in self._gone.items() if now - v < GONE_FOR}
            self._probed = {k: v for k, v in self._probed.items() if k in self._gone}
        self._gone[where] = now

    async def _notice(self, msg: IncomingMessage, surface: Surface[Any]) -> None:
        lang = await self.engine.language(msg)
        try:
            await surface.send(Body(t("internal_error", lang)))
        except Exception as exc:
            log.warning("could not send the error notice: %s", exc)

    async def drain(self) -> None:
        """Let replies in flight finish for up to `grace` seconds, then cancel the rest.

        Messages that arrive meanwhile are still answered: a platform may not send them
        again. After the grace period nothing new is taken.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        if self._inflight:
            log.info("waiting for %d replies in flight", len(self._inflight))
        while self._inflight and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._inflight), timeout=left)
        self.accepting = False
        leftover = set(self._inflight)
        for task in leftover:
            task.cancel()
        if leftover:
            log.warning(
                "cancelled %d replies still running after %.0f s", len(leftover), self.grace
            )
            await asyncio.wait(leftover)


def _stored_reply(result: Delivery[Any]) -> TurnRef | None:
    """The stored model reply (an ok exchange) this delivery carried, if it was one."""
    done = result.done
    if done is None or done.ref is None or done.ref.reply_id is None:
        return None
    return done.ref if done.outcome is Outcome.OK else None


def _greeting(msg: IncomingMessage) -> IncomingMessage:
    """A bare @mention in a group means "hello": answer it like /start."""
    if msg.is_direct or msg.command or msg.text.strip() or msg.images or msg.unsupported:
        return msg
    return replace(msg, command=CommandCall("start"))
