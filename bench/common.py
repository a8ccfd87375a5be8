"""Helpers shared by the benchmarks: percentiles and an instant model."""

from __future__ import annotations

import statistics
from collections.abc import AsyncGenerator, Sequence

from bot.models import rough_tokens
from bot.types import Turn


class InstantModel:
    """Answers at once, so a benchmark measures everything but the model."""

    backend = "instant"
    model = "instant"
    accepts_images = True
    context_tokens = 8192

    def __init__(self, reply: str = "Claro, aquí tienes una respuesta breve.") -> None:
        self.reply = reply

    def estimate_tokens(self, text: str) -> int:
        return rough_tokens(text)

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        yield self.reply

    async def aclose(self) -> None:
        pass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
