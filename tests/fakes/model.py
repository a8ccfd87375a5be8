"""A scripted, instant ChatModel: the one fake for the model boundary, in tests and benches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

from bot.models import rough_tokens
from bot.ports import ModelError
from bot.types import Turn

Reply = str | Exception | Callable[[Sequence[Turn]], "str | Exception"]


class FakeModel:
    """Streams a scripted reply in fixed-size chunks and records every call (unless told not to)."""

    backend = "fake"

    def __init__(
        self,
        reply: Reply = "ok",
        *,
        chunk: int = 16,
        accepts_images: bool = True,
        context_tokens: int = 8192,
        max_output_tokens: int = 1024,
        delay: float = 0.0,
        model: str = "fake-1",
        record: bool = True,
    ) -> None:
        self.reply = reply
        self.chunk = chunk
        self.accepts_images = accepts_images
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.delay = delay
        self.model = model
        # Benches turn recording off: a soak would otherwise keep every prompt it sent.
        self.record = record
        self.calls: list[tuple[str, list[Turn]]] = []
        self.opened = self.closed = False
        # Scripted replies used once each, before falling back to `reply`.
        self.queue: list[str | Exception] = []

    def estimate_tokens(self, text: str) -> int:
        return rough_tokens(text)

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        if self.record:
            self.calls.append((system, list(turns)))
        answer: str | Exception
        if self.queue:
            answer = self.queue.pop(0)
        elif callable(self.reply):
            answer = self.reply(turns)
        else:
            answer = self.reply
        if isinstance(answer, Exception):
            raise answer
        for i in range(0, len(answer), self.chunk):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield answer[i : i + self.chunk]

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.closed = True


def failing(exc: ModelError) -> Callable[[Sequence[Turn]], Exception]:
    """A reply script that fails every call with `exc`."""
    return lambda _turns: exc
