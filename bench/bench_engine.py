"""Engine overhead per message with an instant model, at 1 thousand and 1 million stored messages.

Run: .venv/bin/python -m bench.bench_engine   (add --quick to skip the 1M case)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from adapters.runtime import personas
from bench.common import percentile
from bot.engine import Engine
from bot.types import ConversationKey, IncomingMessage
from storage.sqlite import SqliteStore
from storage.sqlite.terms import recall_terms
from tests.fakes.model import FakeModel

REPLY = "Claro, aquí tienes una respuesta breve."

USERS = 10_000


def populate(path: Path, messages: int, users: int) -> None:
    """Fill the schema with `messages` stored turns spread over `users` users (bulk, raw SQL)."""
    now = time.time()
    with sqlite3.connect(path) as db:
        # The full-text index's triggers call it, as on the store's own connection.
        db.create_function("recall_terms", 2, recall_terms, deterministic=True)
        db.executemany(
            "INSERT INTO users (id, platform, platform_user_id, display_name, created_at)"
            " VALUES (?, 'bench', ?, ?, ?)",
            ((i + 1, f"u{i}", f"user {i}", now) for i in range(users)),
        )
        db.executemany(
            "INSERT INTO conversations (id, user_id, chat_id, started_at) VALUES (?, ?, 'c', ?)",
            ((i + 1, i + 1, now) for i in range(users)),
        )
        text = "Una pregunta o respuesta típica de unas cuantas palabras, como esta misma."
        db.executemany(
            "INSERT INTO messages (user_id, conversation_id, chat_id, role, text, kind, outcome,"
            " tokens, created_at) VALUES (?, ?, 'c', ?, ?, 'chat', 'ok', 20, ?)",
            (
                (
                    (n % users) + 1,
                    (n % users) + 1,
                    "user" if n // users % 2 == 0 else "assistant",
                    text,
                    now,
                )
                for n in range(messages)
            ),
        )
        # Searchable like turns the store writes itself (recall's worst case: every
        # stored message shares the benchmark's words).
        db.execute(
            "INSERT INTO recall_fts (rowid, terms, conversation_id, chat_id)"
            " SELECT id, recall_terms(user_id, text), conversation_id, chat_id FROM messages"
        )
        db.execute("UPDATE recall_indexed SET through = (SELECT max(id) FROM messages)")


async def measure(stored: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        async with SqliteStore(path):
            pass  # create the schema
        populate(path, stored, min(USERS, max(stored // 2, 1)))
        async with SqliteStore(path) as store:
            # One chunk: the bench measures everything but the model.
            engine = Engine(
                store, FakeModel(REPLY, chunk=len(REPLY), record=False), personas=personas()
            )
            users = min(USERS, max(stored // 2, 1))
            rng = random.Random(7)
            latencies: list[float] = []
            for i in range(rounds + 50):
                msg = IncomingMessage(
                    ConversationKey("bench", f"u{rng.randrange(users)}", "c"),
                    text=f"¿Qué es un embedding? pregunta {i}",
                    message_id=str(i),
                )
                started = time.perf_counter()
                async for _ in engine.reply(msg):
                    pass
                if i >= 50:  # warm-up excluded
                    latencies.append((time.perf_counter() - started) * 1000)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            concurrent = [
                IncomingMessage(
                    ConversationKey("bench", f"u{i % users}", "c"),
                    text="hola",
                    message_id=f"c{i}",
                )
                for i in range(rounds)
            ]

            async def one(m: IncomingMessage) -> None:
                async for _ in engine.reply(m):
                    pass

            sem = asyncio.Semaphore(100)

            async def bounded(m: IncomingMessage) -> None:
                async with sem:
                    await one(m)

            await asyncio.gather(*(bounded(m) for m in concurrent))
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "seq_rate": 1000 / (sum(latencies) / len(latencies)),
        "conc_rate": rounds / wall,
        "cpu_ms": cpu * 1000 / rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 1M-message case")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    sizes = [1_000] if args.quick else [1_000, 1_000_000]
    results = {}
    for stored in sizes:
        r = asyncio.run(measure(stored, args.rounds))
        results[stored] = r
        print(
            f"engine, {stored:>9,} stored messages: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms,"
            f" {r['seq_rate']:.0f} msg/s one at a time, {r['conc_rate']:.0f} msg/s with 100"
            f" concurrent users, {r['cpu_ms']:.2f} ms CPU/message"
        )
    if len(results) == 2:
        ratio = results[1_000_000]["p99"] / results[1_000]["p99"]
        print(f"p99 ratio 1M/1k: {ratio:.2f} (target <= 1.5); p99 target <= 5 ms")


if __name__ == "__main__":
    main()
