"""The export's running counts: what was kept, what was dropped and why, what was redacted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.dataset.records import Example

# What each drop counts: a whole conversation, one exchange (a user's turn and its
# answer), one answer of an exchange otherwise kept, or a finished example.
UNITS = ("conversations", "exchanges", "answers", "examples")
SPLITS = ("train", "validation")


@dataclass(slots=True)
class Split:
    """What went into one file."""

    examples: int = 0
    conversations: int = 0
    tokens: int = 0
    bytes: int = 0


@dataclass(slots=True)
class Tally:
    """Counts gathered while the export runs; `summary.report()` turns them into a report."""

    conversations_read: int = 0
    dropped: dict[str, Counter[str]] = field(default_factory=lambda: {u: Counter() for u in UNITS})
    # Answers left in an OpenAI chat example with weight 0: context, not a target.
    context: Counter[str] = field(default_factory=Counter)
    splits: dict[str, Split] = field(default_factory=lambda: {s: Split() for s in SPLITS})
    max_tokens: int = 0
    ratings: Counter[str] = field(default_factory=Counter)
    pairs: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    platforms: Counter[str] = field(default_factory=Counter)
    personas: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def drop(self, unit: str, reason: str, n: int = 1) -> None:
        if n:
            self.dropped[unit][reason] += n

    def keep(self, example: Example, side: str, tokens: int, size: int) -> None:
        """An example written to `side`'s file: `tokens` estimated, `size` bytes."""
        split = self.splits[side]
        split.examples += 1
        split.tokens += tokens
        split.bytes += size
        self.max_tokens = max(self.max_tokens, tokens)
        self.languages[example.origin.lang] += 1
        self.platforms[example.origin.platform] += 1
        self.personas[example.origin.persona] += 1
        if example.is_pair:
            self.pairs[example.pair or ""] += 1
            chosen, rejected = example.ratings
            self.ratings[f"chosen {_rating(chosen)}"] += 1
            self.ratings[f"rejected {_rating(rejected)}"] += 1
        else:
            targets = [m.target for m in example.messages if m.role == "assistant"]
            for rating, target in zip(example.ratings, targets, strict=True):
                role = "target" if target else "context"
                self.ratings[f"{role} {_rating(rating)}"] += 1

    @property
    def examples(self) -> int:
        return sum(s.examples for s in self.splits.values())


def _rating(rating: int) -> str:
    return {1: "up", -1: "down"}.get(rating, "unrated")
