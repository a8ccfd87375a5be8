"""A chain of chat backends (TERTULIA_FALLBACK): when one is down, the next one answers.

The deadline rule: the whole chain answers within one TERTULIA_MODEL_DEADLINE, as a
single backend does. With N backends, backend i (from 0) must have started answering
by start + deadline * (i + 1) / N; the time a backend does not use (it failed fast)
passes to the next, and the last one has until the deadline itself. So a primary that
hangs leaves its fallback a fair share rather than nothing, and a person never waits
longer than with no fallback at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from bot.models import OptionRefused
from bot.ports import ChatModel, ModelError, ModelUnavailable, Substitute
from bot.types import Turn

log = logging.getLogger(__name__)


class MemberRefused(OptionRefused):
    """A backend of the chain refused one of its settings at start-up: `backend` says which,
    so the composition root names that backend's variable, not the primary's."""

    def __init__(self, backend: str, option: str, message: str) -> None:
        super().__init__(option, message)
        self.backend = backend


class FallbackModel:
    """A ChatModel that asks its members in order until one starts answering.

    Only a member that is down (ModelUnavailable after its own retries, or no first
    words by its share of the deadline) hands over to the next: a blocked prompt
    (ModelBlocked) or a refused request (ModelError) is the answer, and so is any
    failure after the first words, which are never followed by another backend's.
    A reply from a fallback starts with a `Substitute` chunk (empty) naming who answered.
    """

    def __init__(self, members: Sequence[ChatModel], *, deadline: float) -> None:
        if len(members) < 2:
            raise ValueError("a fallback chain needs at least two backends")
        self.members = tuple(members)
        primary = self.members[0]
        # The primary speaks for the chain: the context budget is sized for it (the local
        # model fits a longer prompt to its own window), and images go to it.
        self.backend = primary.backend
        self.model = primary.model
        self.accepts_images = primary.accepts_images
        self.context_tokens = primary.context_tokens
        self.max_output_tokens = primary.max_output_tokens
        self._deadline = deadline

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """The backends after the primary, in order, as /model shows them."""
        return tuple(f"{m.backend} ({m.model})" for m in self.members[1:])

    def estimate_tokens(self, text: str) -> int:
        return self.members[0].estimate_tokens(text)

    async def open(self) -> None:
        """Open every member now: a fallback found broken at the first outage is no fallback."""
        for member in self.members:
            try:
                await member.open()
            except OptionRefused as exc:
                raise MemberRefused(member.backend, exc.option, str(exc)) from None
            except ModelError as exc:  # a local model file that cannot be loaded
                if member is self.members[0]:
                    raise
                raise ModelError(f"TERTULIA_FALLBACK: {exc}") from None

    async def close(self) -> None:
        for member in self.members:
            try:
                await member.close()
            except Exception:  # one member's failure must not keep the others open
                log.warning("closing the %s backend failed", member.backend, exc_info=True)

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        """The first member's reply that starts within its share of the deadline."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        failed: list[str] = []
        count = len(self.members)
        for number, member in enumerate(self.members, 1):
            cutoff = started + self._deadline * number / count
            async with aclosing(member.stream(system, _fitting(member, turns))) as stream:
                try:
                    async with asyncio.timeout_at(cutoff):
                        first = await _first_text(stream)
                except (ModelUnavailable, TimeoutError) as exc:
                    reason = str(exc) or f"no answer within {cutoff - started:.0f}s"
                    failed.append(member.backend)
                    if number == count:
                        raise ModelUnavailable(
                            f"every backend is down ({', '.join(failed)}); last: {reason}"
                        ) from None
                    log.warning(
                        "%s is down (%s): asking %s",
                        member.backend,
                        reason,
                        self.members[number].backend,
                    )
                    continue
                if first is None:  # an empty answer is an answer: the engine says so
                    return
                if failed:
                    yield Substitute(member.backend, tuple(failed))
                yield first
                async for piece in stream:
                    yield piece
            return


async def _first_text(stream: AsyncGenerator[str, None]) -> str | None:
    """The stream's first non-empty chunk, or None when it ends without one."""
    async for piece in stream:
        if piece:
            return piece
    return None


def _fitting(member: ChatModel, turns: Sequence[Turn]) -> Sequence[Turn]:
    """The turns as `member` can read them: a fallback that reads no images gets the text."""
    if member.accepts_images or not any(turn.images for turn in turns):
        return turns
    return [Turn(turn.role, turn.text) for turn in turns]
