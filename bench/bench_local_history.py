"""The local model deep into a conversation: time to first token at 200 and 2,000 tokens of
history, cold (the model has not seen the conversation) and warm (the next turns), and
generation speed, through the real engine and SQLite.

Run: .venv/bin/python -m bench.bench_local_history   (--threads N, --context N, --past-turns N,
     --returning N)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.runtime import personas
from bot.engine import Engine
from bot.models.local import LocalModel
from bot.types import CommandCall, ConversationKey, IncomingMessage, Turn
from storage.sqlite import SqliteStore
from tests.fakes.model import FakeModel

QUESTION = (
    "Tell me about the old bridge of Valdemora number {n}: who built it, why the market "
    "grew beside it, and what the floods of the nineteenth century did to its arches."
)
ANSWER = (
    "The bridge was built in stone by the town's masons so that merchants with wool and salt "
    "could cross the river safely. The market grew beside it because every cart had to pass "
    "there. In 1830 a flood carried two arches away, and they were rebuilt with iron. ({n})"
)
FOLLOW_UPS = (
    "And what is the toll house used for today?",
    "Who looks after the bridge now?",
    "Name one thing a visitor should see there.",
    "Is the bridge open to cars?",
)


class Scripted(FakeModel):
    """Writes the history fast: canned answers, counted with the local model's own tokens."""

    def __init__(self, local: LocalModel) -> None:
        super().__init__(record=False)
        self.local = local

    def estimate_tokens(self, text: str) -> int:
        return self.local.estimate_tokens(text)

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        yield ANSWER.format(n=sum(t.role == "user" for t in turns))


def message(user: str, text: str) -> IncomingMessage:
    return IncomingMessage(ConversationKey("bench", user, "c"), text, language="en")


@dataclass(frozen=True, slots=True)
class Timing:
    """One answer: wall and CPU ms to its first text, and tokens/s after it."""

    wall_ms: float
    cpu_ms: float  # the whole process, every thread: what a machine to itself would wait
    rate: float


async def first_token(engine: Engine, msg: IncomingMessage) -> Timing:
    started, cpu = time.perf_counter(), time.process_time()
    first = first_cpu = 0.0
    text = ""
    async for event in engine.reply(msg):
        if isinstance(event, str) and event:
            if not first:
                first, first_cpu = time.perf_counter(), time.process_time()
            text += event
    end = time.perf_counter()
    tokens = engine.model.estimate_tokens(text)
    rate = (tokens - 1) / (end - first) if first and end > first and tokens > 1 else 0.0
    if not first:
        return Timing(float("nan"), float("nan"), 0.0)
    return Timing((first - started) * 1000, (first_cpu - cpu) * 1000, rate)


async def build(
    store: SqliteStore, local: LocalModel, user: str, history: int, first: int = 0
) -> int:
    """Store about `history` tokens of conversation for `user` (canned answers, real store)."""
    scripted = Engine(store, Scripted(local), personas=personas(), context_tokens=3000)
    stored = 0
    n = first
    while stored < history:
        question = QUESTION.format(n=n)
        stored += local.estimate_tokens(question) + local.estimate_tokens(ANSWER.format(n=n))
        async for _ in scripted.reply(message(user, question)):
            pass
        n += 1
    return stored


def line(label: str, cold: Timing, warm: Sequence[Timing]) -> str:
    wall = statistics.median(t.wall_ms for t in warm)
    cpu = statistics.median(t.cpu_ms for t in warm)
    rate = statistics.median(t.rate for t in (cold, *warm))
    return (
        f"{label}: first token cold {cold.wall_ms:,.0f} ms (CPU {cold.cpu_ms:,.0f}),"
        f" warm median {wall:,.0f} ms (CPU {cpu:,.0f}; max {max(t.wall_ms for t in warm):,.0f}"
        f" over {len(warm)} turns); {rate:.0f} tokens/s generating"
    )


async def past_the_window(store: SqliteStore, local: LocalModel, turns: int) -> None:
    """A conversation longer than a 600-token budget: old turns leave in 300-token blocks."""
    await build(store, local, "past", 1200)
    engine = Engine(store, local, personas=personas(), context_tokens=600)
    times = [await first_token(engine, message("past", FOLLOW_UPS[i % 4])) for i in range(turns)]
    shown = ", ".join(f"{t.wall_ms:,.0f}" for t in times)
    slow = sum(t.cpu_ms > 1000 for t in times)
    print(
        f"past a 600-token window, {turns} turns (the first is cold): first token ms {shown};"
        f" {slow} evaluated the whole window again"
    )


async def returning(store: SqliteStore, local: LocalModel, turns: int) -> None:
    """Someone back after /new: each message recalls earlier exchanges about the bridge."""
    await build(store, local, "back", 1000, first=100)
    await first_token(Engine(store, local, personas=personas()), new_conversation("back"))
    stored = await build(store, local, "back", 1000)
    engine = Engine(store, local, personas=personas(), context_tokens=3000)
    # Each asks about another bridge of the earlier conversation: recall finds other exchanges.
    asks = [f"What did you tell me about the bridge number {100 + i * 3}?" for i in range(turns)]
    times = [await first_token(engine, message("back", ask)) for ask in asks]
    shown = ", ".join(f"{t.wall_ms:,.0f}" for t in times)
    print(
        f"returning after /new ({stored} tokens in this conversation, 1,000 in the one before,"
        f" recall on), {turns} turns (the first is cold): first token ms {shown}"
    )


def new_conversation(user: str) -> IncomingMessage:
    return IncomingMessage(ConversationKey("bench", user, "c"), "", command=CommandCall("new"))


async def measure(
    threads: int,
    context: int,
    max_tokens: int,
    warm_turns: int,
    past_turns: int = 0,
    back_turns: int = 0,
) -> None:
    local = LocalModel(context=context, threads=threads, max_output_tokens=max_tokens)
    await local.open()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(Path(tmp) / "bench.db") as store:
                engine = Engine(store, local, personas=personas(), context_tokens=3000)
                sizes = {}
                for user, history in (("short", 200), ("long", 2000)):
                    sizes[user] = await build(store, local, user, history)
                    # Cold: the model has not seen this conversation; then its next turns.
                    cold = await first_token(engine, message(user, FOLLOW_UPS[0]))
                    warm = [
                        await first_token(engine, message(user, FOLLOW_UPS[(i + 1) % 4]))
                        for i in range(warm_turns)
                    ]
                    print(line(f"history {sizes[user]:>5} tokens", cold, warm))
                # Two people taking turns: each comes back to a model that served the other.
                back: list[Timing] = []
                for i in range(warm_turns):
                    await first_token(engine, message("short", FOLLOW_UPS[i % 4]))
                    back.append(await first_token(engine, message("long", FOLLOW_UPS[i % 4])))
                wall = statistics.median(t.wall_ms for t in back)
                cpu = statistics.median(t.cpu_ms for t in back)
                print(
                    f"history {sizes['long']:>5} tokens, each turn after another person's:"
                    f" first token median {wall:,.0f} ms (CPU {cpu:,.0f}; state from the cache)"
                )
                if past_turns:
                    await past_the_window(store, local, past_turns)
                if back_turns:
                    await returning(store, local, back_turns)
    finally:
        await local.close()
    print(
        f"model {local.model}, TERTULIA_LOCAL_CONTEXT={context}, {threads} thread(s),"
        f" replies of up to {max_tokens} tokens; load average now"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: wall times"
        " include waiting for a core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--warm-turns", type=int, default=4)
    parser.add_argument(
        "--past-turns",
        type=int,
        default=0,
        help="also time N turns of a conversation past the window",
    )
    parser.add_argument(
        "--returning",
        type=int,
        default=0,
        help="also time N turns of someone back after /new, with recall on",
    )
    args = parser.parse_args()
    asyncio.run(
        measure(
            args.threads,
            args.context,
            args.max_tokens,
            args.warm_turns,
            args.past_turns,
            args.returning,
        )
    )


if __name__ == "__main__":
    main()
