"""Crash recovery's delivery: after start-up, one note to each person a restart cut off.

The note is a new message, not an edit of the half-written answer: a killed process
leaves no record of the message it was writing (its id lived in memory only), and a new
message also notifies the person, which a silent edit of an old one would not. The half
answer stays above it as it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from adapters.delivery import DEFAULT_POLICY, Policy, Surface, deliver
from adapters.session import Conversations
from bot.ports import TurnRecovery
from bot.recovery import Recovery
from bot.types import ConversationKey, Done, Orphan, ReplyEvent

log = logging.getLogger(__name__)

# Turns left by a process on another host are claimed once its heartbeats stop: look again.
SWEEP_EVERY = 60.0
# A note is worth a short fight with rate limits, not the full reply deadline.
NOTE_DEADLINE = 120.0

SurfaceFor = Callable[[Orphan], Surface[Any]]


class Notes:
    """Claims the orphaned turns at start-up (then every SWEEP_EVERY s) and tells each person."""

    def __init__(
        self, recovery: Recovery, engine: Conversations, policy: Policy = DEFAULT_POLICY
    ) -> None:
        self.recovery = recovery
        self.engine = engine
        self.policy = Policy(
            interval=policy.interval,
            first_wait=0.0,
            deadline=min(policy.deadline, NOTE_DEADLINE),
            clock=policy.clock,
            sleep=policy.sleep,
        )

    async def once(self, surface_for: SurfaceFor) -> int:
        """Claim and tell once; how many notes the platform took. Never raises but for
        cancellation: a refused note is logged and dropped, never retried past its deadline
        (the turn is settled already, so a later sweep or restart cannot tell twice)."""
        try:
            claimed = await self.recovery.claim()
        except Exception:
            log.exception("could not look for answers a restart interrupted")
            return 0
        told = 0
        for orphan, done in claimed:
            try:
                told += await self._tell(orphan, done, surface_for)
            except Exception:
                log.exception(
                    "could not tell a %s person their answer was cut off", orphan.platform
                )
        return told

    async def run(self, surface_for: SurfaceFor, *, every: float = SWEEP_EVERY) -> None:
        """once() now and every `every` seconds until cancelled."""
        while True:
            await self.once(surface_for)
            await asyncio.sleep(every)

    async def _tell(self, orphan: Orphan, done: Done, surface_for: SurfaceFor) -> int:
        key = ConversationKey(orphan.platform, orphan.user_id, orphan.chat_id)
        # In the person's line: a message they send meanwhile is answered after the note.
        async with self.engine.in_order(key):
            result = await deliver(_only(done), surface_for(orphan), self.policy)
        if not result.delivered:
            gone = "the chat is gone" if result.gone else "refused"
            log.info("note about an interrupted %s answer not delivered: %s", key.platform, gone)
        return int(result.delivered)


async def _only(done: Done) -> AsyncIterator[ReplyEvent]:
    yield done


def notes_for(
    store: object,
    engine: Conversations,
    *,
    platform: str,
    processes: tuple[str, ...],
    button: bool,
    default_lang: str,
    policy: Policy = DEFAULT_POLICY,
) -> Notes | None:
    """Crash recovery for one platform's process; None for a store that cannot claim turns.

    Make it before the platform takes any message: its start time divides the turns.
    """
    if not isinstance(store, TurnRecovery):
        return None
    recovery = Recovery(
        store, platform=platform, processes=processes, default_lang=default_lang, button=button
    )
    return Notes(recovery, engine, policy)


def background_for(
    rt: Any, platform: str, surface: Callable[[Any, Orphan], Surface[Any]]
) -> Callable[[Any], Any] | None:
    """The `background=` hook of a platform's serve(): the notes for `rt`'s store, each
    sent through `surface(bot, orphan)` once the platform's client is up (None: no store
    that can claim turns)."""
    notes = notes_for(
        rt.store,
        rt.engine,
        platform=platform,
        processes=(platform,),
        button=True,
        default_lang=rt.settings.default_lang,
        policy=rt.session.policy,
    )
    if notes is None:
        return None
    return lambda bot: notes.run(partial(surface, bot))
