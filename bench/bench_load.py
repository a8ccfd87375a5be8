"""Load: 1,000 people writing at once to one adapter process, then to two sharing a database.

Run: .venv/bin/python -m bench.bench_load   (--people N --messages M --latency S --burst
     --run telegram|telegram+discord|telegram+telegram)

Each adapter is `tertulia telegram` or `tertulia discord` as its own process, as `tertulia
run` starts them (python-telegram-bot against the fake Bot API, discord.py against the
fake gateway and REST API; the openai SDK against a fake model that streams its answer
over --latency seconds); the fakes run here. In a two-process run each process has its
own 1,000 people and both share one database file (two Telegram bots: each its own
token). Each person sends the next message once the previous answer is complete
(--burst: all of them at once). The per-person rate limit is
off (TERTULIA_RATE_PER_MINUTE=0): it would otherwise refuse the bursts, as it should.
Every answer names the person and message it answers, so the audit counts answers
delivered whole, lost, shown twice and shown to the wrong person, and the message/reply
pairs stored in SQLite. Time to full reply = message pushed -> its whole answer shown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bench.bench_external import _cpu_seconds
from bench.common import percentile
from tests.fakes.load import Load, Outcome, run

# The processes of each run, sharing one database: the second Telegram bot has its own token.
RUNS = {
    "telegram": ("telegram",),
    "telegram+discord": ("telegram", "discord"),
    "telegram+telegram": ("telegram", "telegram"),
}
HEADER = (
    f"{'process':>9} {'people':>6} {'msgs':>6} {'delivered':>9} {'lost':>5} {'dup':>4}"
    f" {'misrouted':>9} {'order':>5} {'other':>5} {'stored':>6} {'p50 s':>6} {'p99 s':>6} {'wall s':>7}"
    f" {'RSS MiB':>8} {'CPU s':>6}"
)


# Peak RSS, and what the RSS is made of at the end: the process's own memory (anonymous)
# and the database file's pages it has mapped (SQLite's mmap), which the kernel can drop.
MEMORY = ("VmHWM", "RssAnon", "RssFile")


def measure(pid: int) -> tuple[float, dict[str, float]]:
    """The adapter process's CPU seconds so far and its MEMORY figures in MiB."""
    kib = dict.fromkeys(MEMORY, 0)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in kib:
            kib[name] = int(value.split()[0])  # "  139100 kB"
    return _cpu_seconds(pid), {name: n / 1024 for name, n in kib.items()}


def _p(values: list[float], q: float) -> float:
    return percentile(values, q) if values else float("nan")


def rows(outcome: Outcome) -> list[str]:
    """One line per process, then (with two or more) their sum."""
    load, out = outcome.load, []
    for t in outcome.tallies:
        out.append(
            f"{t.platform:>9} {load.people:>6} {t.expected:>6} {t.delivered:>9} {t.lost:>5}"
            f" {t.duplicated:>4} {t.misrouted:>9} {t.out_of_order:>5} {t.other:>5} {t.stored:>6}"
            f" {_p(t.latencies, 50):>6.2f} {_p(t.latencies, 99):>6.2f} {outcome.wall:>7.1f}"
            f" {t.memory.get('VmHWM', 0):>8.1f} {t.cpu:>6.1f}"
        )
    if len(outcome.tallies) > 1:
        ts = outcome.tallies
        out.append(
            f"{'both':>9} {load.people * len(ts):>6} {sum(t.expected for t in ts):>6}"
            f" {sum(t.delivered for t in ts):>9} {sum(t.lost for t in ts):>5}"
            f" {sum(t.duplicated for t in ts):>4} {sum(t.misrouted for t in ts):>9}"
            f" {sum(t.out_of_order for t in ts):>5}"
            f" {sum(t.other for t in ts):>5} {sum(t.stored for t in ts):>6}"
            f" {_p(outcome.latencies, 50):>6.2f} {_p(outcome.latencies, 99):>6.2f} {outcome.wall:>7.1f}"
        )
    return out


async def main_async(loads: list[Load]) -> list[Outcome]:
    done = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for n, load in enumerate(loads):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            outcome = await run(load, folder, measure)
            for row in rows(outcome):
                print(row, flush=True)
            for k, tally in enumerate(outcome.tallies, 1):
                end = ", ".join(f"{n} {tally.memory.get(n, 0):.1f}" for n in MEMORY[1:])
                print(
                    f"      {tally.platform} {k}: start-up {tally.startup:.1f} s; at the end {end} MiB"
                )
                if tally.errors:
                    print("\n".join(tally.errors[:5]), file=sys.stderr)
            print(
                f"      model calls {outcome.model_calls} (probes: {len(load.platforms)}),"
                f" the fakes' CPU {outcome.harness_cpu:.1f} s"
            )
            done.append(outcome)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000, help="per process")
    parser.add_argument("--messages", type=int, default=10, help="per person")
    parser.add_argument("--latency", type=float, default=1.0, help="model seconds per answer")
    parser.add_argument(
        "--run",
        action="append",
        choices=sorted(RUNS),
        help="default: telegram, then telegram+discord, then telegram+telegram",
    )
    parser.add_argument("--burst", action="store_true", help="each person sends all at once")
    args = parser.parse_args()
    loads = [
        Load(args.people, args.messages, args.latency, platforms=RUNS[name], burst=args.burst)
        for name in args.run or list(RUNS)
    ]
    print(f"load through `tertulia telegram` / `tertulia discord` processes, {os.cpu_count()} CPUs")
    print(f"model: {args.latency:g} s per answer (fake OpenAI-compatible server, openai SDK)")
    print("each person: " + ("all messages at once" if args.burst else "next message on reply"))
    print("rate limit off (TERTULIA_RATE_PER_MINUTE=0); memory: recall by words")
    print("p50/p99 = message pushed -> whole answer shown; RSS = the process's peak (VmHWM)")
    print("order = answers sent after a later message's; other = bot messages answering none")
    print("stored = message/reply pairs in SQLite, the reply as the model said it")
    print(HEADER)
    outcomes = asyncio.run(main_async(loads))
    bad = [o for o in outcomes if not all(t.clean for t in o.tallies)]
    if bad:
        raise SystemExit("some answers were lost, duplicated, misrouted or not stored")


if __name__ == "__main__":
    main()
