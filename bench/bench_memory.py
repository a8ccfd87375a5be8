"""Memory over time: the engine's process memory while 150,000 users come and go.

Run: .venv/bin/python -m bench.bench_memory

Reports anonymous RSS (heap: Python objects plus SQLite's page cache, which is capped
at 32 MiB) and Python's own allocations (tracemalloc) after each block of messages.
The memory-mapped database file is excluded: those pages belong to the OS cache.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import tracemalloc
from pathlib import Path

from adapters.runtime import personas
from bot.engine import Engine
from bot.types import ConversationKey, IncomingMessage
from storage.sqlite import SqliteStore
from tests.fakes.model import FakeModel


def rss_anon_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def soak(blocks: int, per_block: int) -> None:
    tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "soak.db") as store:
            engine = Engine(store, FakeModel("Claro.", chunk=64, record=False), personas=personas())
            sem = asyncio.Semaphore(100)

            async def one(n: int) -> None:
                # Every message from a new user in a new chat: per-user state must not pile up.
                key = ConversationKey("bench", f"u{n}", f"c{n}")
                msg = IncomingMessage(key, "hola", message_id="1")
                async with sem:
                    async for _ in engine.reply(msg):
                        pass

            sent = 0
            for _ in range(blocks):
                await asyncio.gather(*(one(sent + i) for i in range(per_block)))
                sent += per_block
                gc.collect()
                heap = tracemalloc.get_traced_memory()[0] / 2**20
                print(
                    f"after {sent:>6,} messages: anonymous RSS {rss_anon_mib():6.1f} MiB,"
                    f" Python heap {heap:5.1f} MiB, per-user locks held {len(engine._locks)}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--per-block", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(soak(args.blocks, args.per_block))


if __name__ == "__main__":
    main()
