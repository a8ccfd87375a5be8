"""Background embedding: stored chat turns become vectors in batches, off the reply path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.ports import Embedder, MemoryStore, ModelUnavailable

log = logging.getLogger(__name__)


class Indexer:
    """One loop per process that embeds whatever turns no vector covers yet, oldest first.

    A message is recallable by its words at once and by its meaning once this reaches it.
    While the embedder is unavailable the batch waits, however long; a batch it keeps
    refusing (any other error) is tried `attempts` times, then passed over (logged).
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        batch: int = 64,
        attempts: int = 3,
        retry_after: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.batch = batch
        self.attempts = attempts
        self.retry_after = retry_after
        self.sleep = sleep
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """New turns may be waiting: embed them soon. Returns at once."""
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="embed")

    async def idle(self) -> None:
        """Wait until everything stored so far has its vector (tests, benchmarks)."""
        # Polls the database: the turns to embed may come from another process.
        while self._task is not None and not self._task.done() and await self._pending():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _pending(self) -> bool:
        return bool(await self.store.unembedded(self.embedder.name, limit=1))

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            while await self._step():
                pass
            await self._wake.wait()

    async def _step(self) -> bool:
        """Embed one batch; False when nothing is left."""
        rows = await self.store.unembedded(self.embedder.name, limit=self.batch)
        if not rows:
            return False
        through = rows[-1][0]
        wanted = [(i, user, text) for i, user, text in rows if text.strip()]
        refused = 0
        while True:
            try:
                texts = [text for _, _, text in wanted]
                vectors = await self.embedder.embed(texts) if wanted else []
            except asyncio.CancelledError:
                raise
            except ModelUnavailable as exc:
                # An outage: nothing is passed over, the batch waits for the embedder.
                log.warning("embedder unavailable, %d turns wait: %s", len(wanted), exc)
                await self.sleep(self.retry_after)
                continue
            except Exception as exc:
                refused += 1
                log.warning("embedding %d turns refused (%d): %s", len(wanted), refused, exc)
                if refused < self.attempts:
                    await self.sleep(self.retry_after)
                    continue
                # One text it will never take must not stop everyone's recall by meaning.
                log.error("passing over %d turns this embedder keeps refusing", len(rows))
                await self.store.keep_vectors(self.embedder.name, [], through=through)
                return True
            found = [(i, user, v) for (i, user, _), v in zip(wanted, vectors, strict=True)]
            await self.store.keep_vectors(self.embedder.name, found, through=through)
            return True
