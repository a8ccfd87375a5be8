"""What an export is asked for: the format, the filters and the split, checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass

FORMATS: tuple[str, ...] = ("vertex-sft", "vertex-preference", "openai-chat", "openai-dpo")
LANGUAGES: tuple[str, ...] = ("es", "en")
# -1 and 0 select the same answers (a thumbs-down answer is never a training target); 1
# keeps only answers rated thumbs up. Unrated counts as 0.
RATINGS: tuple[int, ...] = (-1, 0, 1)


class DatasetError(ValueError):
    """Options the export cannot use; the message names the option and what it takes."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """One export: its format and filters. Invalid values raise DatasetError at once.

    `min_rating` applies per answer (unrated = 0): an answer below it is no training
    target (for preference pairs: the preferred answer). `since` (Unix time) keeps the
    turns written then or later. `validation` is each conversation's chance of going to
    validation.jsonl, decided by a hash of `seed` and the conversation's id.
    """

    format: str
    min_rating: int | None = None
    since: float | None = None  # Unix time
    platform: str | None = None
    persona: str | None = None
    language: str | None = None
    seed: int = 0
    validation: float = 0.1  # share of conversations in the validation file

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise DatasetError(problem)

    @property
    def pairs(self) -> bool:
        """The format is made of preference pairs rather than whole conversations."""
        return self.format in ("vertex-preference", "openai-dpo")


def _problem(o: ExportOptions) -> str:
    if o.format not in FORMATS:
        return f"format must be one of {', '.join(FORMATS)}, not {o.format!r}"
    if o.min_rating is not None and o.min_rating not in RATINGS:
        return f"min_rating must be -1, 0 or 1, not {o.min_rating!r}"
    if o.language is not None and o.language not in LANGUAGES:
        return f"language must be one of {', '.join(LANGUAGES)}, not {o.language!r}"
    if o.since is not None and not math.isfinite(o.since):
        return "since must be a date"
    if not (isinstance(o.validation, int | float) and 0 <= o.validation < 1):
        return f"validation must be a share from 0 up to (not including) 1, not {o.validation!r}"
    if isinstance(o.seed, bool) or not isinstance(o.seed, int):
        return f"seed must be a whole number, not {o.seed!r}"
    for name in ("platform", "persona"):
        value = getattr(o, name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            return f"{name} must be a name, not {value!r}"
    return ""
