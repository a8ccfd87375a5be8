"""Context building: the persona's system prompt plus the newest turns that fit a budget."""

from __future__ import annotations

from collections.abc import Sequence

from bot.types import StoredTurn, Turn

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
