"""Long-dialogue recall: planted facts asked about after /new, and recall latency at 1M messages.

Run: .venv/bin/python -m bench.bench_recall
  --quick               small sizes, a smoke run
  --embedder E          none | fake (hashed words, default) | local (multilingual-e5-small)
  --part P              all | dialogues | latency
  --extractor X         who learns the facts rows' facts: scripted (exactly the planted ones,
                        default) | local (the default local model through the product's
                        Learner; slow, use a subset: --people 6 --sessions 8)
  --threads N           the local extractor's threads (default 2)
  --rebuild             build the cached latency database again
  --dims N              vector size for the latency part (768: Gemini's default)

1. Dialogues (bench/bench_recall_data.py): generated people talk to the real Engine on a
real SqliteStore in a temp file, one conversation per session (/new before each), with a
fake model that answers a canned reply of 150-300 characters (as long as a real one: a
recalled exchange brings its reply when it fits). Then, in a new conversation, questions
whose answers sit in known turns. A question counts as found when its answer is in the request
the model received (system prompt + turns, the question itself left out). The [bound] rows
talk again with facts learnt (every TERTULIA_FACTS_EVERY exchanges, its default) by a
scripted extractor that writes exactly the planted facts: an upper bound for facts. With
--extractor local the [qwen 0.5B facts] rows have them learnt by the real local model
instead (bot.learning's prompt and parser), chat replies still canned.
2. and 3. (bench/bench_recall_latency.py): store.recall() and Engine.reply timed on a file
of 1,000,000 messages, 100,000 of them one person's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_recall_data import Person, contains, dialogues
from bench.bench_recall_drive import (
    Chat,
    LocalExtractor,
    ScriptedExtractor,
    WindowOnly,
    copy_db,
    default_budget,
    default_facts_every,
    engine_on,
    fake_model,
    local_model,
    make_embedder,
)
from bench.bench_recall_facts import (
    Tally,
    answers_in_facts,
    facts_held,
    report_extractions,
    show_facts,
)
from bench.bench_recall_latency import run_latency
from bot.context import search_words
from bot.ports import Embedder
from bot.types import TurnRef
from storage.sqlite import SqliteStore


@dataclass(slots=True)
class Asked:
    kind: str
    found: bool  # the answer is in the request
    verbatim: bool  # so is the whole evidence turn
    stale_only: bool  # only the answer before an update is
    tokens: int  # system + turns, as the model estimates them
    rank: int | None = None  # the evidence's place in store.recall(limit=50), 1-based
    by_meaning: int | None = None  # the same with no words: by the vector alone


async def converse(
    path: Path,
    people: list[Person],
    extractor: ScriptedExtractor | LocalExtractor | None = None,
    settle: bool = False,
) -> tuple[int, float]:
    """Every person's sessions, one conversation each; (messages sent, seconds).

    With an extractor, facts are learnt as the product does (every reply is delivered),
    and the learner is let finish after each session; with `settle`, after each message:
    a person types slower than a real model extracts, so each extraction reads about
    TERTULIA_FACTS_EVERY messages, not all those a canned chat sent meanwhile.
    """
    sent, started = 0, time.perf_counter()
    async with SqliteStore(path) as store:
        if extractor is None:
            engine = engine_on(store, fake_model(record=False))
        else:
            engine = engine_on(store, extractor, facts_every=default_facts_every())
        if settle:
            # After a failed extraction the learner waits retry_after (60 s) before trying
            # again; a person's next messages come minutes later, a canned chat's within
            # milliseconds, which would pass over the rest of their talk.
            engine.learner.retry_after = 0.0
        for i, person in enumerate(people):
            chat = Chat(engine, i, person.lang)
            if isinstance(extractor, LocalExtractor):
                extractor.person = i
            for session in person.sessions:
                await chat.new()
                for text in session:
                    await chat.say(text)
                    if settle:
                        await engine.learner.idle()
                await engine.learner.idle()
            sent += chat.sent
        await engine.close()
    return sent, time.perf_counter() - started


async def embed_all(path: Path, embedder: Embedder) -> float:
    """What a restart with an embedder does: the engine's indexer embeds the backlog."""
    started = time.perf_counter()
    await embedder.open()
    async with SqliteStore(path) as store:
        engine = engine_on(store, fake_model(record=False), embedder)
        await engine.open()
        if engine.indexer is not None:
            await engine.indexer.idle()
        await engine.close()
    return time.perf_counter() - started


async def ask(
    path: Path, people: list[Person], recall: bool, embedder: Embedder | None
) -> list[Asked]:
    """Each person's questions in one new conversation; what each request held."""
    model = fake_model(record=True)
    store = SqliteStore(path) if recall else WindowOnly(path)
    results: list[Asked] = []
    async with store:
        engine = engine_on(store, model, embedder)
        await engine.open()
        for i, person in enumerate(people):
            chat = Chat(engine, i, person.lang, first_id=10**6)  # past the sessions' ids
            await chat.new()
            for q in person.questions:
                model.calls.clear()
                done = await chat.say(q.text)
                # The question's request; a background call (facts, summary) ends otherwise.
                call = next((c for c in model.calls if c[1][-1].text == q.text), None)
                if call is None:
                    raise RuntimeError(f"no request to the model ended with {q.text!r}")
                system, turns = call
                held = "\n".join([system, *(t.text for t in turns[:-1])])
                tokens = sum(model.estimate_tokens(t) for t in [system, *(t.text for t in turns)])
                found = contains(held, q.answer)
                stale = bool(q.stale) and contains(held, q.stale) and not found
                asked = Asked(q.kind, found, q.evidence in held, stale, tokens)
                if recall and done and done.ref:
                    vector = (await embedder.embed([q.text], query=True))[0] if embedder else None
                    search = Search(store, done.ref, vector, embedder.name if embedder else "")
                    asked.rank = await search.rank(search_words(q.text), q.evidence)
                    if vector is not None:
                        asked.by_meaning = await search.rank([], q.evidence)
                results.append(asked)
        await engine.close()
    return results


@dataclass(slots=True)
class Search:
    """store.recall as the engine called it for one question, deeper (limit=50)."""

    store: SqliteStore
    ref: TurnRef
    vector: list[float] | None
    embedder: str

    async def rank(self, words: list[str], evidence: str) -> int | None:
        """The evidence's place among the recalled turns (either turn of its pair), 1-based."""
        hits = await self.store.recall(
            self.ref.user_id,
            words,
            exclude_conversation=self.ref.conversation_id,
            limit=50,
            vector=self.vector,
            embedder=self.embedder,
        )
        return next((n for n, h in enumerate(hits, 1) if evidence in (h.text, h.partner)), None)


def report(name: str, results: list[Asked], budget: int) -> None:
    for label, rows in (
        ("all", results),
        ("shares words", [r for r in results if r.kind == "overlap"]),
        ("paraphrased", [r for r in results if r.kind == "paraphrase"]),
    ):
        n = len(rows)
        tokens = [r.tokens for r in rows]
        print(
            f"  {name:<28} {label:<13} {n:>4}  {sum(r.found for r in rows) / n:>5.2f}"
            f"  {sum(r.verbatim for r in rows) / n:>8.2f}  {sum(r.stale_only for r in rows):>5}"
            f"  {statistics.mean(tokens):>6.0f} / {max(tokens):>5} of {budget}"
        )
        name = ""


def report_misses(name: str, results: list[Asked], vectors: bool) -> None:
    """Why recall missed: outranked, or recalled but left out of the request (1-5)."""
    print(f"  {name}: misses by the evidence's rank in store.recall(limit=50); 1-5: cut later")
    for kind, label in (("overlap", "shares words"), ("paraphrase", "paraphrased")):
        rows = [r for r in results if r.kind == kind]
        missed = [r for r in rows if not r.found]
        print(f"    {label:<13} missed {len(missed):>3} of {len(rows):>3}: {ranked(missed, False)}")
        if vectors:  # the embedder's own part: the same search with no words
            print(f"    {'':<13} {'by meaning alone:':<18} {ranked(missed, True)}")


def ranked(rows: list[Asked], by_meaning: bool) -> str:
    ranks = [(r.by_meaning if by_meaning else r.rank) or 99 for r in rows]
    top, near, far = (sum(lo <= k <= hi for k in ranks) for lo, hi in ((1, 5), (6, 10), (11, 50)))
    rest = len(rows) - top - near - far
    return f"ranked 1-5 {top}, 6-10 {near}, 11-50 {far}, not in the top 50 {rest}"


async def run_dialogues(args: argparse.Namespace) -> None:
    budget = default_budget()
    people = dialogues(args.seed, args.people, args.sessions)
    embedder = make_embedder(args.embedder)
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.db"
        sent, seconds = await converse(history, people)
        turns = sum(len(s) for p in people for s in p.sessions)
        print(
            f"\n1. Evidence in context: {len(people)} people x {args.sessions} sessions,"
            f" {turns:,} exchanges ({sent:,} messages with the /new commands) through"
            f" Engine.reply in {seconds:.1f} s ({seconds * 1000 / sent:.2f} ms a message)"
        )
        if embedder is not None:
            took = await embed_all(history, embedder)
            print(f"   every turn embedded by the engine's indexer ({embedder.name}): {took:.0f} s")
        print(
            f"   budget {budget} tokens (TERTULIA_CONTEXT_TOKENS' default); questions in a new"
            " conversation; found: the answer is in the model's request"
        )
        print(
            f"  {'mode':<28} {'questions':<13} {'n':>4}  {'found':>5}  {'verbatim':>8}"
            f"  {'stale':>5}  tokens mean / max"
        )
        modes: list[tuple[str, bool, Embedder | None]] = [("recall by words", True, None)]
        if embedder is not None:
            modes.append(("recall by words + vectors", True, embedder))
        modes.append(("window alone (no recall)", False, None))
        outcomes: dict[str, list[Asked]] = {}
        for name, recall, vectors in modes:
            copy = Path(tmp) / f"ask-{len(outcomes)}.db"
            copy_db(history, copy)
            outcomes[name] = await ask(copy, people, recall, vectors)
            report(name, outcomes[name], budget)
        await with_facts(Path(tmp), people, embedder, budget, args.extractor, args.threads)
        for name, recall, vectors in modes:
            if recall:
                report_misses(name, outcomes[name], vectors is not None)
        if embedder is not None:
            await embedder.close()


async def with_facts(
    tmp: Path,
    people: list[Person],
    embedder: Embedder | None,
    budget: int,
    choice: str = "scripted",
    threads: int = 2,
) -> None:
    """The facts rows: the same talk with facts learnt by a perfect (scripted) extractor,
    the [bound] rows, or by the real local model, the [qwen 0.5B facts] rows."""
    history = tmp / "facts.db"
    local = LocalExtractor(local_model(threads)) if choice == "local" else None
    extractor = local or ScriptedExtractor(people)
    tally = Tally()
    logging.getLogger("bot").addHandler(tally)
    try:
        _, seconds = await converse(history, people, extractor, settle=local is not None)
    finally:
        logging.getLogger("bot").removeHandler(tally)
        await extractor.close()
    if embedder is not None:
        seconds += await embed_all(history, embedder)
    held, unread = await facts_held(history, people)
    counts = [len(facts) for facts in held]
    planted = sum(len(p.planted) for p in people)
    every = default_facts_every()
    if local is None:
        tag, who = "[bound]", "a scripted extractor answering exactly the planted facts"
    else:
        tag, who = "[qwen 0.5B facts]", f"the local model {local.local.model} (2048-token window)"
    print(
        f"  {tag}: facts learnt every {every} delivered exchanges (TERTULIA_FACTS_EVERY's"
        f" default) by {who}. Talk (and embed) again with it: {seconds:.0f} s,"
        f" {extractor.extractions:,} extraction calls; facts held per person: mean"
        f" {statistics.mean(counts):.1f}, max {max(counts)}; {unread} of {planted} planting"
        " turns never read (in the last exchanges, short of the next extraction)"
    )
    found, answers, noise = answers_in_facts(people, held)
    print(
        f"    planted answers written in a held fact: {found} of {answers};"
        f" held facts holding no planted answer: {noise} of {sum(counts)}"
    )
    if local is not None:
        report_extractions(local, tally)
        lost = sum(
            any(contains(t, q.answer) for t in local.dropped_texts.get(i, []))
            and not any(contains(f.text, q.answer) for f in facts)
            for i, (person, facts) in enumerate(zip(people, held, strict=True))
            for q in {q.answer: q for q in person.questions}.values()
        )
        print(
            f"    planted answers only in such dropped updates (the model put a new fact in"
            f" 'update' with an id it made up): {lost}"
        )
        show_facts(people, held)
    name = "[qwen 0.5B facts]" if local else "facts [bound]"
    modes: list[tuple[str, Embedder | None]] = [(f"words + {name}", None)]
    if embedder is not None:
        modes.append((f"words+vecs+{name}", embedder))
    for n, (name, vectors) in enumerate(modes):
        copy = tmp / f"ask-facts-{n}.db"
        copy_db(history, copy)
        report(name, await ask(copy, people, True, vectors), budget)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the latency database")
    parser.add_argument("--part", choices=("all", "dialogues", "latency"), default="all")
    parser.add_argument("--embedder", choices=("none", "fake", "local"), default="fake")
    parser.add_argument("--dims", type=int, default=768, help="latency part's vector size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--extractor", choices=("scripted", "local"), default="scripted")
    parser.add_argument("--threads", type=int, default=2, help="the local extractor's threads")
    parser.add_argument("--people", type=int, help="default 20 (6 with --quick)")
    parser.add_argument("--sessions", type=int, help="default 30 (8 with --quick)")
    args = parser.parse_args()
    args.people = args.people or (6 if args.quick else 20)
    args.sessions = args.sessions or (8 if args.quick else 30)
    print(
        "tertulia recall bench: in-process; fake model (canned replies of 150-300 characters); real Engine"
        f" + SqliteStore; machine: {os.cpu_count()} cores, {platform.machine()},"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    print(
        "memory parts: full-text recall on; vectors as --embedder says; no summaries; facts"
        " read from the store but none learnt (the canned model cannot write them), except in"
        " the facts rows: [bound], a scripted extractor writes exactly the planted ones;"
        " [qwen 0.5B facts], the local model learns them (--extractor local)"
    )
    started = time.perf_counter()
    if args.part in ("all", "dialogues"):
        asyncio.run(run_dialogues(args))
    if args.part in ("all", "latency"):
        run_latency(args.quick, args.rebuild, args.dims)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
