"""Tuning-dataset export throughput: a cached file of 1M messages, half the people consenting."""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.dataset import FORMATS, ExportOptions, export_dataset
from adapters.runtime import personas
from bench.bench_recall_data import small_talk
from bench.bench_recall_vocab import TOPICS
from bench.common import create_store, schema_key

CACHE = Path(tempfile.gettempdir()) / "tertulia-bench-export"
DATA_VERSION = 3  # bump when the generated database changes
PER_PERSON = 100  # messages of each person (regenerated answers included)
EXCHANGES = 10  # per conversation
RATED, DOWN = 0.10, 0.3  # share of answers rated, and of those rated thumbs down
REGENERATED = 0.05  # share of exchanges with a replaced (superseded) answer
PRIVATE = 0.02  # share of user turns with an e-mail or a phone in them


def database(total: int, rebuild: bool) -> Path:
    """A cached file of `total` messages, built once per schema and size."""
    path = CACHE / f"export-{total}-{schema_key(DATA_VERSION)}.db"
    if path.exists() and not rebuild:
        print(f"   (cached: {path}; --rebuild to build it again)")
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"export-{total}-*"):
        old.unlink()
    part = path.with_suffix(".part")
    started = time.perf_counter()
    asyncio.run(create_store(part))
    db = sqlite3.connect(part)
    with db:
        db.execute("PRAGMA journal_mode = DELETE")  # one writer, nothing to recover: no WAL
        db.execute("PRAGMA synchronous = OFF")
        populate(db, total)
    db.close()
    part.rename(path)
    size = path.stat().st_size / 2**20
    print(f"   (built {path} in {time.perf_counter() - started:.0f} s, {size:,.0f} MiB)")
    return path


def populate(db: sqlite3.Connection, total: int) -> None:
    """People (every other one consenting), conversations of ten exchanges, ratings and
    regenerated answers, written in bulk as the store would."""
    rng = random.Random(17)
    people = max(2, total // PER_PERSON)
    now = time.time()
    # Consent goes to every other person: languages alternate in pairs, so both consent.
    langs = [("es", "en")[u // 2 % 2] for u in range(people)]
    db.executemany(
        "INSERT INTO users (id, platform, platform_user_id, display_name, lang, persona,"
        " created_at, tuning_consent) VALUES (?, ?, ?, 'Bench', ?, ?, ?, ?)",
        (
            (
                u + 1,
                ("telegram", "discord")[u % 3 == 0],
                str(10_000_000 + u),
                langs[u] if u % 3 == 0 else None,  # most never chose: told by their words
                "tutor" if u % 5 == 0 else None,
                now,
                int(u % 2 == 0),
            )
            for u in range(people)
        ),
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        mid = conv = 0
        for u in range(people):
            topics = rng.sample(sorted(TOPICS[langs[u]]), 4)
            left = PER_PERSON
            while left >= 2:
                conv += 1
                at = now - rng.random() * 365 * 86400
                db.execute(
                    "INSERT INTO conversations (id, user_id, chat_id, started_at, active)"
                    " VALUES (?, ?, ?, ?, 0)",
                    (conv, u + 1, f"chat{u}", at),
                )
                for _ in range(min(EXCHANGES, left // 2)):
                    said = small_talk(rng, langs[u], topics)
                    if rng.random() < PRIVATE:
                        said += f" Mail user{u}@example.com, call +34 600 {u % 1000:03d} 123."
                    mid += 1
                    prompt = mid
                    yield mid, u + 1, conv, f"chat{u}", "user", said, "ok", at, None, None
                    left -= 2
                    rating = None
                    if rng.random() < RATED:
                        rating = -1 if rng.random() < DOWN else 1
                    if left >= 1 and rng.random() < REGENERATED:
                        mid += 1
                        left -= 1
                        old = " ".join(small_talk(rng, langs[u], topics) for _ in range(2))
                        # Now and then the person liked the old answer better: 👍 it, 👎 the new
                        liked = rng.random() < 0.2
                        rating = -1 if liked else rating
                        yield (mid, u + 1, conv, f"chat{u}", "assistant", old, "superseded",
                               at + 3, prompt, 1 if liked else None)  # fmt: skip
                    reply = " ".join(small_talk(rng, langs[u], topics) for _ in range(3))
                    mid += 1
                    yield (
                        mid,
                        u + 1,
                        conv,
                        f"chat{u}",
                        "assistant",
                        reply,
                        "ok",
                        at + 5,
                        prompt,
                        rating,
                    )
                    at += 60

    db.executemany(
        "INSERT INTO messages (id, user_id, conversation_id, chat_id, role, text, kind,"
        " outcome, tokens, created_at, reply_to, rating)"
        " VALUES (?, ?, ?, ?, ?, ?, 'chat', ?, length(?6) / 4 + 1, ?, ?, ?)",
        rows(),
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(db: Path, fmt: str) -> None:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as raw:
        (stored,) = raw.execute("SELECT count(*) FROM messages").fetchone()
        (read,) = raw.execute(
            "SELECT count(*) FROM messages m JOIN users u ON u.id = m.user_id"
            " WHERE u.tuning_consent = 1"
        ).fetchone()
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = export_dataset(db, Path(out), ExportOptions(format=fmt), personas())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(p.stat().st_size for p in Path(out).iterdir()) / 2**20
    examples = summary["examples"]
    dropped = sum(n for unit in summary["dropped"].values() for n in unit.values())
    print(
        f"  {fmt:<18} {wall:6.1f} s wall, {cpu:6.1f} s CPU | {examples:>7,} examples"
        f" {examples / wall:>8,.0f}/s | {read:>9,} messages read {read / wall:>9,.0f}/s"
        f" ({stored / wall:>9,.0f}/s of the {stored:,} stored) | {size:5.0f} MiB written,"
        f" {dropped:,} items dropped, peak RSS {peak_rss_mib():.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 messages instead of 1M")
    parser.add_argument("--messages", type=int, default=0, help="messages to store")
    parser.add_argument("--format", choices=FORMATS, action="append", help="(default: all)")
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    args = parser.parse_args()
    total = args.messages or (20_000 if args.quick else 1_000_000)
    print(f"Dataset export over {total:,} stored messages (half the people consenting)")
    db = database(total, args.rebuild)
    print(
        "  Each export reads the file read-only, cleans, checks, splits and writes all five"
        " files into a temporary directory; timed from the call to its return (one process,"
        " one thread)."
    )
    for fmt in args.format or FORMATS:
        measure(db, fmt)


if __name__ == "__main__":
    main()
