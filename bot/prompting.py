"""The prompt for one answer: persona, memory (facts, summary, recall) and the window, in budget."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot import context
from bot.ports import ChatModel, Embedder, MemoryStore
from bot.types import Image, IncomingMessage, Ingested, Persona, Recalled, Turn

log = logging.getLogger(__name__)

# Earlier exchanges asked of recall: about as many as its largest room (recall's own share,
# plus what facts and summary leave) holds as one-line hits at the default budget.
RECALL_HITS = 60


@dataclass(slots=True)
class Prompter:
    """Builds what the model is asked; reads the store, never writes it."""

    store: MemoryStore
    model: ChatModel
    context_tokens: int  # the budget for everything but the reply
    embedder: Embedder | None = None
    embed_timeout: float = 2.0

    async def build(
        self,
        msg: IncomingMessage,
        ingested: Ingested,
        text: str,
        images: tuple[Image, ...],
        lang: str,
        persona: Persona,
        before: int | None = None,
    ) -> tuple[str, list[Turn]]:
        """The system prompt and the newest turns that fit the budget, `text` last (the turns
        before message `before` only, when an earlier turn is answered again)."""
        user = ingested.user
        system = context.system_prompt(persona.prompt, lang)
        estimate = self.model.estimate_tokens
        budget = max(0, self.context_tokens - estimate(system) - estimate(text))
        conversation = ingested.ref.conversation_id
        # Never a private chat's words into a group: from a group, only that group's.
        where = None if msg.is_direct else msg.key.chat_id
        words = context.search_words(text)
        # Someone whose only conversation is this one (most new people) has nothing to
        # recall. Otherwise the message's own vector is asked for while the window is read.
        meaning = None
        if self.embedder is not None and ingested.earlier:
            meaning = asyncio.ensure_future(self._meaning(text))
        after = ingested.summary.through if ingested.summary else 0
        try:
            stored = await self.store.window(user.id, conversation, after=after, before=before)
        finally:
            vector = await meaning if meaning is not None else None
        found: list[Recalled] = []
        if ingested.earlier:
            found = await self.store.recall(
                user.ids,
                words,
                exclude_conversation=conversation,
                chat_id=where,
                limit=RECALL_HITS,
                vector=vector,
                embedder=self.embedder.name if self.embedder else "",
            )
        # The person's facts came with their turn; a group sees only those said in it.
        facts = [f for f in ingested.facts if where is None or f.chat_id == where]
        memory = context.Memory(facts, ingested.summary, found, words)
        # A model that reads its whole memory again for every message (the local one, below)
        # keeps to recall's own share: each token of it is paid on every message.
        late = getattr(self.model, "reuses_prefix", False)
        extra = context.memory_prompt(memory, budget, estimate, lend=not late)
        # A model that keeps its evaluated prompt (the local one) reuses whatever start of
        # the prompt it has seen. Memory changes with every message, so for it memory goes
        # after the window, just before the message: ahead of the window it had the whole
        # window evaluated again for every message of someone with earlier conversations
        # (8-9 s a message instead of 0.2 s at 1,000 tokens of history, 2 threads:
        # `python -m bench.bench_local_history --returning 6`).
        if extra:
            if not late:
                system = f"{system}\n\n{extra}"
            budget -= estimate(extra)
        # The same model loses old turns in blocks of half the budget: the prompt's start
        # then stays the same for many turns, and the prompt evaluated again after a block
        # goes costs about one turn per turn overall.
        step = self.context_tokens // 2 if late else 0
        turns = context.fit_window(stored, max(budget, 0), step)
        if extra and late:
            turns.append(Turn("system", extra))
        turns.append(Turn("user", text, images))
        return system, turns

    async def _meaning(self, text: str) -> list[float] | None:
        """The message as a search vector; None (words only) if the embedder is slow or down."""
        assert self.embedder is not None
        try:
            async with asyncio.timeout(self.embed_timeout):
                (vector,) = await self.embedder.embed([text], query=True)
            return vector
        except Exception as exc:  # TimeoutError too: recall by words still works
            log.warning("no search vector for a message: %s", exc)
            return None
