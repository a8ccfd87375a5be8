"""The one internal record every output format is rendered from: an example and its origin."""

from __future__ import annotations

from dataclasses import dataclass

from bot.types import Role


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of an example. `target`: an answer the model is trained to give; an answer
    that is not one stays as context (OpenAI's weight 0)."""

    role: Role
    text: str
    target: bool = False


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an example comes from: its conversation (the unit of the split) and labels."""

    conversation: int
    platform: str
    persona: str
    lang: str  # "es", "en" or "unknown"


@dataclass(frozen=True, slots=True)
class Example:
    """A training example before it takes a format's shape.

    A conversation example: `messages` alternate user and assistant and end with an
    answer; `ratings` are its answers' (0 unrated). A preference pair: `messages` are the
    prompt (the earlier turns as the model had them, then the user's turn), `chosen` and
    `rejected` the two answers to it, `ratings` theirs, and `pair` why one is preferred.
    """

    origin: Origin
    system: str
    messages: tuple[Message, ...]
    ratings: tuple[int, ...] = ()
    chosen: str | None = None
    rejected: str | None = None
    pair: str | None = None  # "regenerated" or "rated"

    @property
    def is_pair(self) -> bool:
        return self.chosen is not None

    def texts(self) -> list[str]:
        """Every text the example teaches from, the system instruction aside."""
        texts = [m.text for m in self.messages]
        if self.chosen is not None and self.rejected is not None:
            texts += [self.chosen, self.rejected]
        return texts

    def content(self) -> str:
        """The example as one text, for telling duplicates apart: the persona, each turn
        with its role, and a pair's two answers."""
        lines = [f"persona {self.origin.persona}"]
        lines += [f"{m.role} {m.text}" for m in self.messages]
        if self.is_pair:
            lines += [f"chosen {self.chosen}", f"rejected {self.rejected}"]
        return "\n".join(lines)
