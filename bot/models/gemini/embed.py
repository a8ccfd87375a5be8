"""Gemini embeddings: batches of texts to vectors through google-genai's embed_content."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from google.genai import types

from bot.models import CHECK_TIMEOUT, OptionRefused, batches, checked_vectors
from bot.models.gemini.client import (
    REQUEST_ERRORS,
    Client,
    describe,
    failure,
    is_transient,
    redactor,
    refused_option,
    retry_delay,
)
from bot.models.retry import Retry, retried
from bot.ports import ModelError

log = logging.getLogger(__name__)

# batchEmbedContents refuses more than 100 requests in one call.
MAX_BATCH = 100


class GeminiEmbedder:
    """An Embedder on the Gemini API: retrieval task types, Matryoshka output size, L2-normalised.

    gemini-embedding-001 answers 3072 floats unless asked for fewer (768 and 1536 keep
    nearly all the quality); only its full size comes normalised, so we normalise all.
    """

    def __init__(
        self,
        api_key: str,
        model: str = "gemini-embedding-001",
        *,
        dimensions: int = 768,
        base_url: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 1.0,
        batch_size: int = MAX_BATCH,
        deadline: float = 90.0,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"gemini embeddings: batch_size must be 1..{MAX_BATCH}")
        self.model = model.removeprefix("models/")
        self.dimensions = dimensions
        # Another size is another vector space: part of the name, so stores never mix them.
        self.name = f"gemini/{self.model}@{dimensions}"
        self._timeout = timeout
        self._retry = Retry(max(0, retries), backoff, deadline)
        self._batch_size = batch_size
        self._redact = redactor(api_key)
        self._client = Client(api_key, base_url, timeout)

    async def open(self) -> None:
        """Check the key and the model with one cheap call (models.get) at start-up.

        A refused key or an unknown model raises OptionRefused, as for chat; an
        unreachable or failing server only logs: it may come back.
        """
        try:
            async with asyncio.timeout(min(self._timeout, CHECK_TIMEOUT)):
                await self._client.sdk().aio.models.get(model=f"models/{self.model}")
        except REQUEST_ERRORS as exc:
            reason = " ".join(self._redact(describe(exc)).split())
            option = refused_option(exc)
            if option == "api_key":
                raise OptionRefused(option, f"Gemini refused the key: {reason}") from None
            if option == "model":
                message = f"Gemini has no embedding model {self.model!r}: {reason}"
                raise OptionRefused(option, message) from None
            log.warning(
                "Gemini embeddings: cannot check the key and model now (%s); starting anyway",
                reason,
            )

    async def close(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        """One unit vector per text, in order; one request per `batch_size` texts."""
        config = types.EmbedContentConfig(
            task_type="RETRIEVAL_QUERY" if query else "RETRIEVAL_DOCUMENT",
            output_dimensionality=self.dimensions,
        )
        vectors: list[list[float]] = []
        for batch in batches(texts, self._batch_size):
            vectors.extend(await self._embed_batch(batch, config))
        return vectors

    async def _embed_batch(
        self, texts: Sequence[str], config: types.EmbedContentConfig
    ) -> list[list[float]]:
        # One Content per text: given bare strings, the SDK folds them into a single
        # multi-part content for multimodal models (gemini-embedding-2), one vector in all.
        contents = [types.Content(role="user", parts=[types.Part(text=t)]) for t in texts]
        models = self._client.sdk().aio.models

        async def attempt() -> types.EmbedContentResponse:
            async with asyncio.timeout(self._timeout):
                return await models.embed_content(
                    model=self.model, contents=contents, config=config
                )

        try:
            response = await retried(
                attempt,
                self._retry,
                transient=is_transient,
                server_delay=retry_delay,
                describe=lambda exc: self._redact(describe(exc)),
                what="Gemini embeddings",
                log=log,
            )
        except REQUEST_ERRORS as exc:
            raise failure(exc, "Gemini embeddings", self._redact) from exc
        values = [e.values or [] for e in response.embeddings or []]
        try:
            return checked_vectors(values, len(texts), self.dimensions)
        except ValueError as exc:
            raise ModelError(f"Gemini embeddings ({self.model}): {exc}") from None
