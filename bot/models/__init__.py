"""Model backends: the ChatModel port and the errors every backend raises."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from bot.types import Turn


class ModelError(Exception):
    """The model could not answer; the engine records the turn as failed."""


class ModelBlocked(ModelError):
    """The provider refused the prompt or the answer (safety filters)."""


class ModelUnavailable(ModelError):
    """The provider could not be reached, timed out or kept failing after retries."""


class ChatModel(Protocol):
    """A model backend: one streaming method plus what the engine needs to budget context."""

    backend: str  # "gemini", "openai", "local", ...
    model: str  # the model's name, shown by /model
    accepts_images: bool
    context_tokens: int

    def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        """Yield the reply's text in chunks as the model produces it."""
        ...

    def estimate_tokens(self, text: str) -> int:
        """Return the number of tokens `text` takes, exactly or as a cheap estimate."""
        ...

    async def aclose(self) -> None:
        """Release clients, threads and memory held by the backend."""
        ...


def rough_tokens(text: str) -> int:
    """Estimate tokens as one per four characters, the usual rule for English and Spanish."""
    return len(text) // 4 + 1
