"""Cleaning: a conversation's turns into exchanges a model may learn from, each drop counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.dataset.tally import Tally
from bot.types import Outcome, TrainingConversation, TrainingTurn, TurnKind


@dataclass(frozen=True, slots=True)
class Answer:
    """One of the model's answers to a user's turn, redacted."""

    id: int
    text: str
    rating: int  # 1, -1, or 0 when unrated


@dataclass(frozen=True, slots=True)
class Exchange:
    """A user's turn and the answer that stands, with the answers regenerating replaced."""

    prompt: str
    answer: Answer
    superseded: tuple[Answer, ...] = ()


def exchanges(
    conversation: TrainingConversation, redact: Callable[[str], str], tally: Tally
) -> list[Exchange]:
    """The conversation's usable exchanges in order; every turn left out is counted.

    An exchange is usable when its user's turn was a chat message (not a command, not
    refused input, no image the text cannot show) that ended `ok`, with an `ok` answer.
    """
    prompts: list[TrainingTurn] = []
    answers: dict[int, list[TrainingTurn]] = {}
    for turn in conversation.turns:
        if turn.role == "user":
            prompts.append(turn)
        elif turn.reply_to is None:
            tally.drop("answers", "orphan")
        else:
            answers.setdefault(turn.reply_to, []).append(turn)
    asked = {p.id for p in prompts}
    for reply_to, lost in answers.items():
        if reply_to not in asked:
            # Its user's turn is outside the export (before --since): no prompt to pair.
            tally.drop("answers", "orphan", len(lost))
    kept: list[Exchange] = []
    for prompt in prompts:
        replies = answers.get(prompt.id, [])
        reason = _unusable(prompt, replies)
        if reason:
            tally.drop("exchanges", reason)
            continue
        standing = max((a for a in replies if a.outcome is Outcome.OK), key=lambda a: a.id)
        replaced = []
        for reply in replies:
            if reply.outcome is Outcome.SUPERSEDED:
                replaced.append(_answer(reply, redact))
            elif reply is not standing:
                # A regeneration that failed, or an older answer still marked ok.
                tally.drop("answers", reply.outcome.value)
        text = redact(prompt.text)
        answer = _answer(standing, redact)
        if not text.strip() or not answer.text.strip():
            tally.drop("exchanges", "empty")
            continue
        kept.append(Exchange(text, answer, tuple(replaced)))
    return kept


def _unusable(prompt: TrainingTurn, replies: list[TrainingTurn]) -> str:
    """Why an exchange cannot be learnt from, or "" when it can."""
    if prompt.kind is not TurnKind.CHAT:
        return prompt.kind.value  # "command" or "rejected"
    if prompt.images:
        return "images"  # the answer is about a picture the text does not carry
    if prompt.outcome is not Outcome.OK:
        return prompt.outcome.value  # failed, blocked, interrupted, undelivered, pending
    if not any(a.outcome is Outcome.OK for a in replies):
        return "unanswered"
    return ""


def _answer(turn: TrainingTurn, redact: Callable[[str], str]) -> Answer:
    return Answer(turn.id, redact(turn.text), turn.rating or 0)
