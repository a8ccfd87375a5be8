"""OpenAI-compatible embeddings (`/v1/embeddings`: OpenAI, Ollama, vLLM, llama-server, ...)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import openai

from bot.models import batches, checked_vectors
from bot.models.openai_compat.client import (
    PLACEHOLDER_KEY,
    REQUEST_ERRORS,
    check,
    describe,
    is_transient,
    make_client,
    retry_after,
    translate,
)
from bot.models.retry import Retry, retried
from bot.ports import ModelError

log = logging.getLogger(__name__)

# OpenAI takes at most 2048 inputs per request; other servers may want fewer.
MAX_BATCH = 2048
# Sizes of well-known models by bare name (no "provider/" prefix, no ":tag"). Any other
# model is asked once, in open(), unless `dimensions` is given.
_NATIVE_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    "bge-m3": 1024,
}
# Only these accept a smaller `dimensions` (Matryoshka); other servers may refuse the field.
_SHORTENABLE = re.compile(r"^text-embedding-3-")
# Models trained with instruction prefixes (query, document) embed poorly without them;
# OpenAI's own models have none, and the API has no task type to carry the difference.
_PREFIXES: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"(^|[-_.])e5([-_.]|$)"), ("query: ", "passage: ")),
    (re.compile(r"^nomic-embed-text"), ("search_query: ", "search_document: ")),
)


def _bare(name: str) -> str:
    return name.lower().rsplit("/", 1)[-1].split(":", 1)[0]


def prefixes(model: str) -> tuple[str, str]:
    """The (query, document) prefixes the model was trained with; empty for unknown names."""
    bare = _bare(model)
    return next((p for pattern, p in _PREFIXES if pattern.search(bare)), ("", ""))


class OpenAIEmbedder:
    """An Embedder on any `/v1/embeddings` server through the openai SDK; L2-normalised."""

    def __init__(
        self,
        api_key: str | None,
        model: str = "text-embedding-3-small",
        *,
        base_url: str | None = None,
        dimensions: int | None = None,
        batch_size: int = MAX_BATCH,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 1.0,
        deadline: float = 90.0,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("openai embeddings: batch_size must be at least 1")
        self.model = model
        native = _NATIVE_DIMENSIONS.get(_bare(model))
        # Ask for a size only where the API can shorten vectors and the caller wants that.
        self._requested = (
            dimensions
            if dimensions is not None and dimensions != native and _SHORTENABLE.match(_bare(model))
            else None
        )
        self.dimensions = dimensions or native or 0  # 0: learnt from the server in open()
        self.name = self._name()
        known_query, known_document = prefixes(model)
        self._query_prefix = known_query if query_prefix is None else query_prefix
        self._document_prefix = known_document if document_prefix is None else document_prefix
        self._batch_size = batch_size
        self._key = api_key or PLACEHOLDER_KEY
        self._timeout = timeout
        # The one policy of every backend (bot.models.retry), not the SDK's own: the same
        # backoff, jitter and Retry-After, and a deadline per batch.
        self._retry = Retry(max(0, retries), backoff, deadline)
        self._client = make_client(self._key, base_url, timeout=timeout, retries=0)

    def _name(self) -> str:
        # Another size is another vector space: part of the name, so stores never mix them.
        return f"openai/{self.model}@{self.dimensions}"

    async def open(self) -> None:
        """Check the key and the model with one cheap call (client.check: a refused one
        raises OptionRefused), then learn the vector size when the model's is not known."""
        await check(self._client, self.model, key=self._key, seconds=self._timeout)
        if not self.dimensions:
            await self.embed(["dimensions"])
            log.info("openai embeddings: %s gives %d dimensions", self.model, self.dimensions)

    async def close(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        """One unit vector per text, in order; one request per `batch_size` texts."""
        prefix = self._query_prefix if query else self._document_prefix
        vectors: list[list[float]] = []
        for batch in batches(texts, self._batch_size):
            vectors.extend(await self._embed_batch([prefix + t for t in batch]))
        return vectors

    async def _embed_batch(self, inputs: list[str]) -> list[list[float]]:
        try:
            # Floats, not the SDK's default base64: not every compatible server speaks it.
            response = await retried(
                lambda: self._client.embeddings.create(
                    model=self.model,
                    input=inputs,
                    encoding_format="float",
                    dimensions=openai.omit if self._requested is None else self._requested,
                ),
                self._retry,
                transient=is_transient,
                server_delay=retry_after,
                describe=lambda exc: describe(exc, self._key),
                what="openai embeddings",
                log=log,
            )
        except REQUEST_ERRORS as exc:
            # `from None`: the SDK error can echo a masked key and the whole request.
            raise translate(
                exc,
                what="openai embeddings",
                model=self.model,
                key=self._key,
                base_url=self._client.base_url,
            ) from None
        values = [d.embedding for d in sorted(response.data, key=lambda d: d.index)]
        if not self.dimensions and values:
            self.dimensions = len(values[0])
            self.name = self._name()
        try:
            return checked_vectors(values, len(inputs), self.dimensions)
        except ValueError as exc:
            raise ModelError(f"openai embeddings ({self.model}): {exc}") from None
