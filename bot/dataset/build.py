"""Examples from a conversation's exchanges: the whole conversation, or preference pairs."""

from __future__ import annotations

from bot.dataset.clean import Answer, Exchange
from bot.dataset.records import Example, Message, Origin
from bot.dataset.tally import Tally

# An example whose turns hold fewer characters than this (about 5 tokens: "hola" /
# "¡Hola! ¿Qué tal?") shows no behaviour worth teaching.
MIN_CHARS = 24


def is_target(rating: int, min_rating: int | None) -> bool:
    """Whether an answer is one the model should learn to give: never one rated thumbs
    down, and at least `min_rating` when one is asked for (unrated counts as 0)."""
    return rating != -1 and (min_rating is None or rating >= min_rating)


def conversation(
    origin: Origin,
    system: str,
    exchanges: list[Exchange],
    *,
    min_rating: int | None,
    keep_context: bool,
    tally: Tally,
) -> Example | None:
    """The conversation as one example, or None when nothing in it is a target.

    An answer that is no target is dropped with its user's turn, or, with
    `keep_context` (OpenAI's weight), kept untrained so what follows reads as it was.
    A replaced (superseded) answer is never a target: the person asked for another.
    """
    messages: list[Message] = []
    ratings: list[int] = []
    for exchange in exchanges:
        tally.drop("answers", "superseded", len(exchange.superseded))
        rating = exchange.answer.rating
        target = is_target(rating, min_rating)
        if not target:
            reason = "rated_down" if rating == -1 else "below_min_rating"
            if not keep_context:
                tally.drop("exchanges", reason)
                continue
            tally.context[reason] += 1
        messages += [
            Message("user", exchange.prompt),
            Message("assistant", exchange.answer.text, target),
        ]
        ratings.append(rating)
    if not any(m.target for m in messages):
        tally.drop("examples", "no_target")
        return None
    return Example(origin, system, tuple(messages), tuple(ratings))


def pairs(
    origin: Origin,
    system: str,
    exchanges: list[Exchange],
    *,
    min_rating: int | None,
    tally: Tally,
) -> list[Example]:
    """Every preference pair the conversation holds, each with its prompt as it was:
    the earlier exchanges (their standing answers) and the user's turn."""
    found: list[Example] = []
    context: list[Message] = []
    for exchange in exchanges:
        prompt = (*context, Message("user", exchange.prompt))
        for chosen, rejected, why in preferences(exchange, tally):
            if min_rating is not None and chosen.rating < min_rating:
                tally.drop("examples", "below_min_rating")
                continue
            ratings = (chosen.rating, rejected.rating)
            found.append(Example(origin, system, prompt, ratings, chosen.text, rejected.text, why))
        context += [Message("user", exchange.prompt), Message("assistant", exchange.answer.text)]
    return found


def preferences(exchange: Exchange, tally: Tally) -> list[tuple[Answer, Answer, str]]:
    """(chosen, rejected, why) for one user's turn.

    "regenerated": the answer that stands over each one it replaced, unless the standing
    one was rated down (then nothing was preferred) or the replaced one rated up (the
    person liked both: counted as conflicting). "rated": any answer rated up over any
    rated down.
    """
    found: dict[tuple[int, int], tuple[Answer, Answer, str]] = {}
    standing = exchange.answer
    for old in exchange.superseded:
        if standing.rating == -1:
            continue
        if old.rating == 1 and standing.rating != 1:
            tally.drop("examples", "conflicting_ratings")
            continue
        found.setdefault((standing.id, old.id), (standing, old, "regenerated"))
    answers = (standing, *exchange.superseded)
    for up in (a for a in answers if a.rating == 1):
        for down in (a for a in answers if a.rating == -1):
            found.setdefault((up.id, down.id), (up, down, "rated"))
    return list(found.values())


def too_short(example: Example) -> bool:
    return sum(len(t.strip()) for t in example.texts()) < MIN_CHARS
