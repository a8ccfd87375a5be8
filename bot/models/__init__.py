"""Model backends, looked up by name: each module here is the only importer of its SDK."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bot.ports import ChatModel, Embedder, ModelError

# name -> "module:class". Adding a backend is its module plus one line here; the class
# takes its settings as keyword arguments (config.settings.Settings.backend_options).
BACKENDS: dict[str, str] = {
    "gemini": "bot.models.gemini:GeminiModel",
    "openai": "bot.models.openai_compat:OpenAIModel",
    "local": "bot.models.local:LocalModel",
}

# The same for text embedders (bot.ports.Embedder).
EMBEDDERS: dict[str, str] = {
    "gemini": "bot.models.gemini:GeminiEmbedder",
    "openai": "bot.models.openai_compat:OpenAIEmbedder",
    "local": "bot.models.local_embed:LocalEmbedder",
}


# The start-up check of a remote backend (its key and model, one cheap call) waits no
# longer than this: an unreachable server is a warning, not a reason to hang.
CHECK_TIMEOUT = 10.0


class OptionRefused(ModelError):
    """The server refused one of the backend's settings at start-up: a restart will not help.

    `option` is the constructor's keyword (`api_key`, `model`), which the composition root
    turns into the environment variable to fix.
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def _load(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def backend(name: str) -> Callable[..., ChatModel]:
    """The backend class called `name`, imported only now: a process loads one SDK."""
    factory: Callable[..., ChatModel] = _load(BACKENDS[name])
    return factory


def build(name: str, options: dict[str, Any]) -> ChatModel:
    """A backend instance from its settings (not yet opened)."""
    return backend(name)(**options)


def embedder(name: str) -> Callable[..., Embedder]:
    """The embedder class called `name`, imported only now."""
    factory: Callable[..., Embedder] = _load(EMBEDDERS[name])
    return factory


def make_embedder(backend: str, **options: Any) -> Embedder:
    """An embedder instance from its settings (not yet opened)."""
    return embedder(backend)(**options)


def rough_tokens(text: str) -> int:
    """Estimate tokens as one per four characters, the usual rule for English and Spanish."""
    return len(text) // 4 + 1


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """`texts` in order, at most `size` at a time (what one embedding request may carry)."""
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def checked_vectors(
    values: Sequence[Sequence[float]], count: int, dimensions: int
) -> list[list[float]]:
    """`count` vectors of `dimensions` floats each, scaled to unit length; ValueError if not.

    Unit length everywhere, so a dot product is the cosine whichever embedder made them.
    """
    if len(values) != count:
        raise ValueError(f"{len(values)} vectors for {count} texts")
    vectors: list[list[float]] = []
    for vector in values:
        if len(vector) != dimensions:
            raise ValueError(f"a vector of {len(vector)} dimensions, not {dimensions}")
        norm = math.sqrt(math.fsum(x * x for x in vector)) or 1.0  # a zero vector stays zero
        vectors.append([float(x) / norm for x in vector])
    return vectors
