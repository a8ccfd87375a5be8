"""The engine faked at its port (adapters.session.Conversations), for session and adapter tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from bot.commands import REGISTRY, Command
from bot.feedback_commands import feedback_text
from bot.i18n import normalize_lang, t
from bot.types import (
    Accepted,
    ConversationKey,
    Done,
    Image,
    IncomingMessage,
    Outcome,
    Rated,
    RemoteImage,
    ReplyEvent,
    TurnRef,
)

# A script answers one message: text (streamed in chunks, then Done ok) or exact events.
Script = str | Sequence[ReplyEvent]


class ScriptedEngine:
    """Records every message it is handed and answers each from a script, in order per key.

    Like the real engine: a message id seen before gets no events at all, a command gets
    its text and Done without Accepted, and images still on the platform are fetched
    after Accepted (`fetched` keeps them).
    """

    def __init__(
        self,
        reply: Script | Callable[[IncomingMessage], Script] = "ok",
        *,
        chunk: int = 16,
        delay: float = 0.0,
    ) -> None:
        self.reply = reply
        self.chunk = chunk
        self.delay = delay
        self.messages: list[IncomingMessage] = []
        self.fetched: list[tuple[Image | None, ...]] = []
        self.undelivered_refs: list[TurnRef] = []
        self.delivered_refs: list[TurnRef] = []
        self.gate: asyncio.Event | None = None  # when set by a test: wait for it mid-reply
        self.chosen_lang: dict[ConversationKey, str] = {}
        # Ratings pressed: (who, reply id, rating, reason); each answer's asker by reply id.
        self.ratings: list[tuple[str, int, int | None, str]] = []
        self.askers: dict[int, str] = {}
        # Identities linked to another (/link): they may rate and redo its answers.
        self.linked: dict[str, str] = {}
        self._seen: set[tuple[ConversationKey, str]] = set()
        self._ids = itertools.count(1)
        self._locks: dict[ConversationKey, asyncio.Lock] = {}

    def commands(self) -> list[Command]:
        return list(REGISTRY.values())

    @asynccontextmanager
    async def in_order(self, key: ConversationKey) -> AsyncIterator[None]:
        async with self._locks.setdefault(key, asyncio.Lock()):
            yield

    async def answer(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        if msg.message_id is not None:
            if (msg.key, msg.message_id) in self._seen:
                return
            self._seen.add((msg.key, msg.message_id))
        self.messages.append(msg)
        ref = TurnRef(1, 1, next(self._ids))
        script = self.reply(msg) if callable(self.reply) else self.reply
        if not isinstance(script, str):
            for event in script:
                await self._pause()
                yield event
            return
        if msg.command is None:
            yield Accepted(ref)
            self.fetched.append(tuple([await _fetch(i) for i in msg.images]))
        for i in range(0, len(script), self.chunk):
            await self._pause()
            yield script[i : i + self.chunk]
            if i == 0 and self.gate is not None:
                await self.gate.wait()
        if msg.command is not None and msg.command.name != "retry":
            # Like the engine: a command's answer is not a stored reply (nothing to rate);
            # /retry (↻) is a new answer of the model's.
            yield Done(ref, Outcome.OK)
            return
        reply_id = next(self._ids)
        self.askers[reply_id] = msg.key.user_id
        yield Done(TurnRef(1, 1, ref.prompt_id, reply_id), Outcome.OK)

    async def undelivered(self, ref: TurnRef) -> None:
        self.undelivered_refs.append(ref)

    async def delivered(self, ref: TurnRef) -> None:
        self.delivered_refs.append(ref)

    async def rate(
        self, msg: IncomingMessage, reply_id: int | None, rating: int | None, reason: str = ""
    ) -> tuple[Rated, str]:
        """Like the engine: only the person who asked may rate; the answer line is the catalog's."""
        lang = await self.language(msg)
        asker = self.askers.get(reply_id or 0)
        if asker is None:
            return Rated.GONE, t("rate_gone", lang)
        if not self._same_person(asker, msg.key.user_id):
            return Rated.NOT_YOURS, t("rate_not_yours", lang)
        self.ratings.append((msg.key.user_id, reply_id or 0, rating, reason))
        return Rated.OK, feedback_text(Rated.OK, rating, lang, reason=bool(reason.strip()))

    async def may_redo(self, msg: IncomingMessage, reply_id: int) -> tuple[Rated, str]:
        """Like the engine: only the asker's newest answer is regenerated."""
        lang = await self.language(msg)
        asker = self.askers.get(reply_id)
        if asker is None:
            return Rated.GONE, t("rate_gone", lang)
        if not self._same_person(asker, msg.key.user_id):
            return Rated.NOT_YOURS, t("rate_not_yours", lang)
        return Rated.OK, ""

    def _same_person(self, one: str, other: str) -> bool:
        return self.linked.get(one, one) == self.linked.get(other, other)

    async def language(self, msg: IncomingMessage) -> str:
        return self.chosen_lang.get(msg.key) or normalize_lang(msg.language) or "en"

    async def _pause(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)


async def _fetch(image: Image | RemoteImage) -> Image | None:
    return image if isinstance(image, Image) else await image.fetch()
