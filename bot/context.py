"""Context building: the persona's prompt, recalled earlier turns, the newest turns that fit."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from bot.types import Recalled, StoredTurn, Turn

_WORD = re.compile(r"\w{3,}")  # shorter words match too much to be worth a search
SNIPPET_CHARS = 300

LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def system_prompt(persona_prompt: str, lang: str) -> str:
    """The persona's prompt plus which language to answer in by default."""
    language = LANGUAGE_NAMES.get(lang, "English")
    return (
        f"{persona_prompt}\n"
        f"Reply in {language} unless the user writes in another language; then use theirs."
    )


def fit_window(newest_first: Sequence[StoredTurn], budget: int) -> list[Turn]:
    """Keep the newest turns whose tokens fit `budget`, oldest dropped first, oldest-first order.

    The window always starts with a user turn: providers such as Gemini reject a
    conversation that opens with the model speaking.
    """
    kept: list[StoredTurn] = []
    used = 0
    for turn in newest_first:
        if used + turn.tokens > budget:
            break
        kept.append(turn)
        used += turn.tokens
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)
    return [Turn(s.role, s.text) for s in kept]


def search_words(text: str) -> list[str]:
    """The words of a message worth searching earlier conversations for, first seen first."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))


def recall_block(recalled: Sequence[Recalled], budget: int, estimate: Callable[[str], int]) -> str:
    """Earlier exchanges for the system prompt, best first, as many as fit `budget` tokens."""
    lines: list[str] = []
    seen: set[str] = set()
    used = 0
    for hit in recalled:
        question, answer = (
            (hit.text, hit.partner) if hit.role == "user" else (hit.partner, hit.text)
        )
        key = f"{question}\x00{answer}"
        if key in seen:
            continue  # both turns of one exchange matched
        seen.add(key)
        day = time.strftime("%Y-%m-%d", time.gmtime(hit.said_at))
        line = f"- [{day}] They said: {_clip(question)}" if question else f"- [{day}]"
        if answer:
            line += f" / You answered: {_clip(answer)}"
        cost = estimate(line)
        if used + cost > budget:
            break
        lines.append(line)
        used += cost
    if not lines:
        return ""
    head = "From earlier conversations with this person (use what helps, never invent more):"
    return "\n".join([head, *lines])


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"
