"""Background embedding: stored chat turns become vectors in batches, off the reply path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable

from bot.ports import Embedder, MemoryStore, ModelUnavailable

log = logging.getLogger(__name__)


class Indexer:
    """One loop per process that embeds whatever turns no vector covers yet, oldest first.

    A message is recallable by its words at once and by its meaning once this reaches it.
    While the embedder is unavailable the batch waits, however long; a batch it keeps
    refusing (any other error) is tried `attempts` times, then passed over (logged).

    Processes sharing the store take turns: only the one holding the embedder's claim
    (renewed before every call, given up when nothing is left) embeds, so `tertulia run`'s
    two adapters never pay twice for one turn. The others wait for the claim to end; a
    holder that died is taken over once its claim runs out (`hold` seconds).
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        batch: int = 64,
        attempts: int = 3,
        retry_after: float = 30.0,
        hold: float = 90.0,
        poll: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.batch = batch
        self.attempts = attempts
        self.retry_after = retry_after
        # Longer than one wait for the embedder, so a live holder never loses it between
        # two renewals.
        self.hold = max(hold, retry_after * 2)
        self.poll = poll  # how often a waiting process looks whether the claim is free
        self.sleep = sleep
        self.clock = clock
        self.holder = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._held = False  # this process may hold the claim: give it up when done

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
            try:
                while await self._step():
                    pass
            finally:
                if self._held:
                    self._held = False
                    with contextlib.suppress(Exception):
                        await self.store.release_embedding(self.embedder.name, self.holder)
            await self._wake.wait()

    async def _claim(self) -> float:
        """0.0 when this process holds the claim now, else seconds until it may."""
        # Held from the moment it is asked for: a claim asked for just as close() cancels
        # us still lands (the statement runs to its end), and must be given up.
        self._held = True
        now = self.clock()
        until = await self.store.claim_embedding(
            self.embedder.name, self.holder, now=now, hold=self.hold
        )
        if until == 0.0:
            return 0.0
        self._held = False
        return min(self.poll, max(0.05, until - now))

    async def _step(self) -> bool:
        """Embed one batch; False when nothing is left."""
        rows = await self.store.unembedded(self.embedder.name, limit=self.batch)
        if not rows:
            return False
        through = rows[-1][0]
        wanted = [(i, user, text) for i, user, text in rows if text.strip()]
        refused = 0
        while True:
            if (wait := await self._claim()) > 0:
                # Another process embeds (these turns too): look again soon, since it gives
                # the claim up when done and may leave turns behind.
                await self.sleep(wait)
                return True
            try:
                texts = [text for _, _, text in wanted]
                # Well inside the claim: a call that outlived it could be paid twice, by
                # this process and by the one that took the claim over meanwhile.
                async with asyncio.timeout(self.hold / 2):
                    vectors = await self.embedder.embed(texts) if wanted else []
            except asyncio.CancelledError:
                raise
            except (ModelUnavailable, TimeoutError) as exc:
                # An outage: nothing is passed over, the batch waits for the embedder.
                why = str(exc) or f"no answer in {self.hold / 2:.0f} s"
                log.warning("embedder unavailable, %d turns wait: %s", len(wanted), why)
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
