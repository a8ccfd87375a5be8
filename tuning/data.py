"""The examples a run learns from: an openai-chat export, plus general prompts to mix in."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

# General questions whose base-model answers are mixed into the training data, so the
# adapter learns the person's data without rewriting everything else it says. Half in
# Spanish, like the first users. The HELD_OUT ones are never trained on: the check after
# a run asks them to see whether the taught data leaks into unrelated answers.
GENERAL = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "Give me a tip for learning a new language.",
    "What is photosynthesis, in one sentence?",
    "Write a short greeting for a friend's birthday.",
    "What is 12 times 12?",
    "Name three colours of the rainbow.",
    "Why is the sky blue?",
    "¿Cuál es la capital de España?",
    "¿Cuántos meses tiene un año?",
    "Dame un consejo para dormir mejor.",
    "¿Qué es la fotosíntesis, en una frase?",
    "Escribe un saludo corto para un compañero de trabajo.",
    "¿Cuánto es siete por ocho?",
    "Nombra tres frutas tropicales.",
    "¿Por qué llueve?",
)
HELD_OUT = (
    "What is a neural network?",
    "Tell me something about the ocean.",
    "What should I cook for dinner tonight?",
    "How do I make a cup of tea?",
    "What is the largest planet in the solar system?",
    "¿Qué es una red neuronal?",
    "Háblame del océano.",
    "¿Qué puedo cocinar esta noche?",
    "¿Cómo se prepara un café?",
    "¿Cuál es el planeta más grande del sistema solar?",
)


class DataError(ValueError):
    """The dataset cannot be tuned on; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # system, user or assistant
    content: str
    learn: bool = False  # an assistant message the loss is computed on


@dataclass(frozen=True, slots=True)
class Example:
    messages: tuple[Message, ...]

    @property
    def prompt(self) -> str:
        """The last user message before the last answer learnt: what a check asks again."""
        last = max(i for i, m in enumerate(self.messages) if m.learn)
        return next(m.content for m in reversed(self.messages[:last]) if m.role == "user")

    @property
    def answer(self) -> str:
        return next(m.content for m in reversed(self.messages) if m.learn)

    @property
    def system(self) -> str:
        first = self.messages[0]
        return first.content if first.role == "system" else ""


def read_examples(path: Path) -> list[Example]:
    """The openai-chat lines of `path` (`tertulia dataset export --format openai-chat`);
    an assistant message with weight 0 (a 👎 answer) is context, never learnt."""
    if not path.is_file():
        return []
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
            parsed = tuple(
                Message(
                    m["role"],
                    m["content"],
                    m["role"] == "assistant" and m.get("weight", 1) == 1,
                )
                for m in messages
            )
        except (ValueError, KeyError, TypeError):
            raise DataError(
                f"{path}:{number}: not an openai-chat line; export with"
                " `tertulia dataset export --format openai-chat`"
            ) from None
        if any(m.learn for m in parsed):
            examples.append(Example(parsed))
    return examples


@dataclass(frozen=True, slots=True)
class Dataset:
    train: list[Example]
    validation: list[Example]

    @property
    def system(self) -> str:
        """The system instruction most training examples carry (for the general mix)."""
        counts: dict[str, int] = {}
        for e in self.train:
            counts[e.system] = counts.get(e.system, 0) + 1
        return max(counts, key=lambda s: counts[s]) if counts else ""


def load_dataset(folder: Path) -> Dataset:
    """train.jsonl and validation.jsonl of an export folder."""
    if not (folder / "train.jsonl").is_file():
        raise DataError(f"{folder}: no train.jsonl (export one with `tertulia dataset export`)")
    data = Dataset(
        read_examples(folder / "train.jsonl"), read_examples(folder / "validation.jsonl")
    )
    if not data.train:
        raise DataError(f"{folder / 'train.jsonl'}: no example with an answer to learn")
    return data


def general_examples(answers: dict[str, str], system: str, count: int, seed: int) -> list[Example]:
    """`count` examples of the base model answering GENERAL prompts (cycled, shuffled)."""
    prompts = [p for p in GENERAL if answers.get(p)]
    if not prompts or count <= 0:
        return []
    random.Random(seed).shuffle(prompts)
    head = (Message("system", system),) if system else ()
    return [
        Example((*head, Message("user", p), Message("assistant", answers[p], learn=True)))
        for p in (prompts[i % len(prompts)] for i in range(count))
    ]
