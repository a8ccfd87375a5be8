"""The recall benchmark's facts rows: what was learnt, against what was planted, and how
the real model's extraction answers fared (bench_recall.py --extractor local)."""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from pathlib import Path

from bench.bench_recall_data import Person, contains
from bench.bench_recall_drive import LocalExtractor
from bot.types import Fact
from storage.sqlite import SqliteStore


async def facts_held(path: Path, people: list[Person]) -> tuple[list[list[Fact]], int]:
    """The facts that hold for each person (not those an update replaced), and how many
    planting turns were never read for facts (said after a person's last extraction)."""
    held, unread = [], 0
    async with SqliteStore(path) as store:
        for i, person in enumerate(people):
            user = await store.find_user("bench", f"p{i}")
            assert user is not None
            held.append(await store.facts(user.ids))
            unread += sum(text in person.planted for _, text, _ in await store.unlearnt(user.id))
    return held, unread


def answers_in_facts(people: list[Person], held: list[list[Fact]]) -> tuple[int, int, int]:
    """(planted answers written in some fact, planted answers, facts holding no answer):
    what the facts could give recall, and how much of them is noise."""
    found = total = noise = 0
    for person, facts in zip(people, held, strict=True):
        answers = {q.answer for q in person.questions}
        total += len(answers)
        found += sum(any(contains(f.text, a) for f in facts) for a in answers)
        noise += sum(not any(contains(f.text, a) for a in answers) for f in facts)
    return found, total, noise


def show_facts(people: list[Person], held: list[list[Fact]], shown: int = 3) -> None:
    """A few people's planted facts beside what was learnt, for a reader to judge."""
    for i, (person, facts) in enumerate(zip(people[:shown], held, strict=False)):
        planted = [fact for fact, _ in person.planted.values()]
        print(f"    p{i} ({person.lang}) planted ({len(planted)}): " + "; ".join(planted))
        answers = {q.answer for q in person.questions}
        # Those holding a planted answer first: the reader sees the hits and the noise.
        texts = sorted(
            (f.text for f in facts), key=lambda t: not any(contains(t, a) for a in answers)
        )
        learnt = [t if len(t) <= 90 else t[:87] + "..." for t in texts]
        print(f"    p{i} learnt ({len(facts)}), 8 of them, those with a planted answer first:")
        for text in learnt[:8]:
            print(f"      - {text}")


class Tally(logging.Handler):
    """Counts the learner's and the local model's warnings instead of printing each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen[str(record.msg).split(",")[0].split(":")[0]] += 1


def report_extractions(local: LocalExtractor, tally: Tally) -> None:
    """How the real model's answers fared with the Learner's parser."""
    calls = max(1, local.extractions)
    print(
        f"    {local.extractions} extraction calls in {local.seconds:.0f} s of the model"
        f" ({local.seconds / calls:.1f} s a call), {statistics.mean(local.batches or [0]):.1f}"
        f" messages shown to each (max {max(local.batches or [0])})"
    )
    for verdict, n in local.verdicts.most_common():
        print(f"    {verdict}: {n} ({n / calls:.0%})")
    print(f"    updates/ends naming an id that was not listed (dropped): {local.dropped}")
    for answer in local.refused[:3]:
        print(f"    refused: {' '.join(answer.split())[-200:]!r} ({len(answer)} chars)")
    for prompt, answer in local.samples[:2]:
        said = prompt.partition("Their newest messages:\n")[2].replace("\n", " ")
        print(f"    e.g. shown: {said[:160]}\n         answer: {' '.join(answer.split())[:240]}")
    for message, n in tally.seen.most_common():
        print(f"    logged {n}x: {message}")
