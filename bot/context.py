"""Context building: one budget shared by the persona, facts, summary, recall and recent turns."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.types import Fact, Recalled, StoredTurn, Summary, Turn

_WORD = re.compile(r"\w{3,}")  # shorter words match too much to be worth a search
SNIPPET_CHARS = 300
WHOLE_FIRST = 3  # recalled exchanges given whole before the others get a line each

LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}

Estimate = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Shares:
    """The most each part of memory may take of what the persona and the message leave.

    Recent turns get the rest, and whatever the other parts do not use: a person with
    no facts and no earlier conversations has the whole budget for this one.
    """

    facts: float = 0.15
    summary: float = 0.15
    recall: float = 0.20

    @property
    def turns(self) -> float:
        """The least the recent turns get."""
        return 1.0 - self.facts - self.summary - self.recall


SHARES = Shares()


@dataclass(frozen=True, slots=True)
class Memory:
    """What is known beyond the recent turns, for one message."""

    facts: Sequence[Fact] = ()
    summary: Summary | None = None
    recalled: Sequence[Recalled] = ()
    words: Sequence[str] = ()  # the message's search words: matching facts go first


def memory_prompt(
    memory: Memory,
    budget: int,
    estimate: Estimate,
    shares: Shares = SHARES,
    *,
    lend: bool = True,
) -> str:
    """The memory sections for the system prompt, each within its share of `budget`.

    With `lend`, what the facts and the summary leave of their shares goes to recall (a
    person with few facts, in a conversation too young for a summary, gets more of their
    earlier conversations); the recent turns keep their own share either way.
    """
    facts = facts_block(memory.facts, memory.words, int(budget * shares.facts), estimate)
    summary = summary_block(memory.summary, int(budget * shares.summary), estimate)
    room = int(budget * shares.recall)
    if lend:
        left = int(budget * (shares.facts + shares.summary)) - estimate(facts) - estimate(summary)
        room += max(0, left)
    recall = recall_block(memory.recalled, room, estimate)
    return "\n\n".join(p for p in (facts, summary, recall) if p)


def nearest_facts(facts: Sequence[Fact], words: Sequence[str]) -> list[Fact]:
    """`facts` (newest first) with those sharing most of `words` first (accents folded)."""
    wanted = {_fold(w) for w in words}

    def relevance(fact: Fact) -> int:
        return len(wanted & {_fold(w) for w in _WORD.findall(fact.text)})

    return sorted(facts, key=relevance, reverse=True)  # stable: newest first within a tie


def facts_block(facts: Sequence[Fact], words: Sequence[str], budget: int, est: Estimate) -> str:
    """The person's facts, those sharing the message's words first, then the newest."""
    ranked = nearest_facts(facts, words)
    head = "What this person told you about themselves (newest first; may be out of date):"
    lines = [f"- [{_day(f.created_at)}] {_clip(f.text)}" for f in ranked]
    return _fill(head, lines, budget, est)


def summary_block(summary: Summary | None, budget: int, est: Estimate) -> str:
    """This conversation's older part, as the model summarised it."""
    if summary is None or not summary.text.strip():
        return ""
    head = "Earlier in this conversation (your summary):"
    text = summary.text.strip()
    while text and est(f"{head}\n{text}") > budget:
        text = text[: len(text) * 3 // 4]  # the start says who and what: keep it
    return f"{head}\n{text}" if text else ""


def system_prompt(persona_prompt: str, lang: str) -> str:
    """The persona's prompt plus which language to answer in by default."""
    language = LANGUAGE_NAMES.get(lang, "English")
    return (
        f"{persona_prompt}\n"
        f"Reply in {language} unless the user writes in another language; then use theirs."
    )


def fit_window(newest_first: Sequence[StoredTurn], budget: int, step: int = 0) -> list[Turn]:
    """Keep the newest turns whose tokens fit `budget`, oldest dropped first, oldest-first order.

    The window always starts with a user turn: providers such as Gemini reject a
    conversation that opens with the model speaking.

    With `step`, old turns go in blocks of at least `step` tokens counted from the oldest
    turn given: the window's first turn then stays put for many turns, so a backend that
    keeps the evaluated prompt (the local model) reuses it instead of evaluating it again.
    """
    total = sum(turn.tokens for turn in newest_first)
    if step > 0 and total > budget:
        dropped = -(-(total - budget) // step) * step  # rounded up to whole steps
        budget = total - dropped
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


def recall_block(recalled: Sequence[Recalled], budget: int, estimate: Estimate) -> str:
    """Earlier exchanges for the prompt, best first, as many as fit `budget` tokens.

    The best WHOLE_FIRST come as whole exchanges (what the person said and what you
    answered: an answer often sits in the reply to the matching line); every other found
    turn first gets a line of its own words, and then, best first, those lines grow into
    whole exchanges while they fit. A line for each of many hits beats whole exchanges for
    a few: replies are long, and the person's own words are where they told about
    themselves (bench/bench_recall.py).
    """
    exchanges: list[tuple[str, str]] = []  # (their own line, the whole exchange), best first
    seen: set[str] = set()
    for hit in recalled:
        question, answer = (
            (hit.text, hit.partner) if hit.role == "user" else (hit.partner, hit.text)
        )
        key = f"{question}\x00{answer}"
        if key in seen:
            continue  # both turns of one exchange matched
        seen.add(key)
        day = _day(hit.said_at)
        said = f"They said: {_clip(question)}" if question else ""
        answered = f"You answered: {_clip(answer)}" if answer else ""
        own = said if hit.role == "user" or not answered else answered
        whole = " / ".join(p for p in (said, answered) if p)
        exchanges.append((f"- [{day}] {own}", f"- [{day}] {whole}"))
    head = "From earlier conversations with this person (use what helps, never invent more):"
    used = estimate(head)
    lines: list[str] = []
    shorter: list[tuple[int, int, str]] = []  # (place, cost so far, whole) of the short lines
    for n, (own, whole) in enumerate(exchanges):
        first = whole if n < WHOLE_FIRST else own
        cost = estimate(first)
        if used + cost <= budget:  # a long line gives way; a shorter one may still fit
            if first != whole:
                shorter.append((len(lines), cost, whole))
            lines.append(first)
            used += cost
    for place, cost, whole in shorter:
        extra = estimate(whole) - cost
        if used + extra <= budget:
            lines[place] = whole
            used += extra
    return "\n".join([head, *lines]) if lines else ""


def _fill(head: str, lines: Sequence[str], budget: int, estimate: Estimate) -> str:
    """The heading and as many lines as fit `budget` tokens, heading included; "" if none."""
    used = estimate(head)
    kept: list[str] = []
    for line in lines:
        cost = estimate(line)
        if used + cost > budget:
            continue  # a long line gives way; a shorter, less relevant one may still fit
        kept.append(line)
        used += cost
    return "\n".join([head, *kept]) if kept else ""


def _day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def _fold(word: str) -> str:
    bare = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in bare if not unicodedata.combining(c))


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"
