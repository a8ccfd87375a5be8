"""Fake people for load runs: many write at once through adapter processes, audited.

Each adapter is `tertulia telegram` or `tertulia discord` as its own process, as `tertulia
run` starts it, against its own fake platform (load_platforms); every process shares one
SQLite file and one fake OpenAI-compatible model, which streams an answer naming the
person and the message it answers over `latency` seconds. A reply shown in the wrong
chat, shown twice, never shown in full, or missing from the database is therefore
counted, not guessed. The load test runs it small; bench/bench_load.py runs it at 1,000
people and measures the processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.load_platforms import DiscordLoad, LoadPlatform, TelegramLoad
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env, kill, start_cli, terminate

CHUNKS = 10  # the model's answer arrives in this many pieces, spread over its latency
TAG = re.compile(r"p(\d{7}) m(\d{3})")
# Process k's probe person, PROBE - k, is nobody: its first answer says the adapter is ready.
# Each has its own: the processes share the database, where a person is one person.
PROBE = 9_999_999
PER_PROCESS = 100_000  # process k's people are k * PER_PROCESS + 1, 2, ...
# Background memory (facts, summaries, vectors) off: every model call is an answer.
MEMORY_OFF = {"TERTULIA_LEARN": "off", "TERTULIA_EMBEDDER": "none"}
FILLER = (
    "Te respondo con calma: la idea principal cabe en pocas frases, y el resto son "
    "detalles que podemos ver después si te interesan."
)


def question(person: int, n: int) -> str:
    return f"p{person:07d} m{n:03d} ¿me lo explicas?"


def answer(person: int, n: int) -> str:
    """The model's whole answer to `question(person, n)`: every answer is as long."""
    return f"Para p{person:07d} m{n:03d}. {FILLER}"


def model_reply(messages: list[dict[str, Any]]) -> str:
    """What the fake model says to a request: the answer to the newest user turn it was given,
    so a request built from someone else's conversation names the wrong person."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, str):  # a list of parts (text, images)
            content = " ".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
        found = TAG.search(content)
        if found:
            return answer(int(found[1]), int(found[2]))
        break
    return "Sin etiqueta."  # counted as `other` wherever it lands


@dataclass(frozen=True, slots=True)
class Load:
    """What is asked of each adapter process."""

    people: int = 1000  # per process, all writing at once
    messages: int = 10  # per person
    latency: float = 1.0  # seconds the model takes per answer
    # One adapter process per entry, all sharing the database, each with `people` people.
    platforms: tuple[str, ...] = ("telegram",)
    burst: bool = False  # each person sends every message at once, not one per reply
    timeout: float = 900.0  # seconds the whole load may take before what is missing is lost


@dataclass(slots=True)
class Tally:
    """One adapter process's outcome: what the fake platform showed and what SQLite holds."""

    platform: str
    expected: int
    delivered: int = 0  # messages whose whole answer reached their own chat
    lost: int = 0  # messages without a whole answer in their chat
    duplicated: int = 0  # whole answers shown more than once
    misrouted: int = 0  # bot messages naming another person than their chat's
    out_of_order: int = 0  # answers sent after the answer to a later message of theirs
    other: int = 0  # bot messages naming no message: notices, errors
    stored: int = 0  # user messages stored once with their ok reply, as the model said it
    missing: list[tuple[int, int]] = field(default_factory=list)  # (person, message), 10 at most
    # Message pushed -> its whole answer shown, in seconds.
    latencies: list[float] = field(default_factory=list, repr=False)
    memory: dict[str, float] = field(default_factory=dict)  # MiB by /proc status field, at the end
    cpu: float = 0.0  # the process's CPU seconds during the load
    startup: float = 0.0  # process started -> its first answer shown
    errors: list[str] = field(default_factory=list)  # ERROR and traceback lines it logged

    @property
    def clean(self) -> bool:
        return self.delivered == self.stored == self.expected and not (
            self.lost or self.duplicated or self.misrouted or self.out_of_order or self.other
        )


@dataclass(slots=True)
class Outcome:
    """A whole run: one tally per process and the wall time from first message to last answer."""

    load: Load
    tallies: list[Tally]
    wall: float
    model_calls: int  # chat completions the model served, probes included: retries show here
    harness_cpu: float  # CPU seconds of this process (the fakes) during the load

    @property
    def latencies(self) -> list[float]:
        return [t for tally in self.tallies for t in tally.latencies]


class Driver:
    """The people of one process: sends their messages and times each whole answer."""

    def __init__(self, platform: LoadPlatform, people: Sequence[int], load: Load) -> None:
        self.platform, self.people, self.load = platform, people, load
        self.sent = dict.fromkeys(people, 0)
        self.pending: dict[tuple[int, int], float] = {}
        self.latencies: list[float] = []
        platform.on_text = self._shown

    def done(self) -> bool:
        """Every message has had its whole answer shown."""
        return len(self.latencies) == len(self.people) * self.load.messages

    def start(self) -> None:
        for person in self.people:
            for _ in range(self.load.messages if self.load.burst else 1):
                self._push(person)

    def _push(self, person: int) -> None:
        self.sent[person] += 1
        n = self.sent[person]
        self.pending[(person, n)] = time.monotonic()
        self.platform.push(person, question(person, n))

    def _shown(self, chat: int, text: str) -> None:
        found = TAG.search(text)
        if found is None:
            return
        key = (int(found[1]), int(found[2]))
        # Only the first whole answer in its own chat counts here; the audit sees the rest.
        if chat != key[0] or text != answer(*key) or key not in self.pending:
            return
        self.latencies.append(time.monotonic() - self.pending.pop(key))
        if not self.load.burst and self.sent[chat] < self.load.messages:
            self._push(chat)


def audit_platform(
    chats: dict[int, list[str]], people: Sequence[int], load: Load, tally: Tally
) -> None:
    """Count what a fake platform ended up showing in every chat (`LoadPlatform.shown()`)."""
    whole: Counter[tuple[int, int]] = Counter()
    for chat, shown in chats.items():
        if chat // PER_PROCESS == PROBE // PER_PROCESS:
            continue
        answered = 0  # the newest message answered in this chat so far
        for text in shown:  # in the order the bot sent them
            found = TAG.search(text)
            if found is None:
                tally.other += 1
            elif int(found[1]) != chat:
                tally.misrouted += 1
            elif text == answer(chat, n := int(found[2])):
                whole[(chat, n)] += 1
                tally.out_of_order += n < answered
                answered = max(answered, n)
    expected = {(p, n) for p in people for n in range(1, load.messages + 1)}
    tally.delivered = len(expected & whole.keys())
    tally.missing = sorted(expected - whole.keys())[:10]
    tally.lost = tally.expected - tally.delivered
    tally.duplicated = sum(count - 1 for count in whole.values())


def audit_store(db: Path, tallies: dict[int, Tally]) -> None:
    """Count, per process, the user messages stored once with the right ok reply."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT u.platform, u.platform_user_id, q.text, a.text FROM messages q"
            " JOIN users u ON u.id = q.user_id"
            " JOIN messages a ON a.reply_to = q.id AND a.role = 'assistant'"
            " AND a.outcome = 'ok'"
            " WHERE q.role = 'user'"
        ).fetchall()
    finally:
        con.close()
    seen: Counter[tuple[str, int, int]] = Counter()
    for platform, user, asked, said in rows:
        found = TAG.search(asked)
        if found is None or int(user) != int(found[1]):
            continue
        if said == answer(int(found[1]), int(found[2])):
            seen[(platform, int(found[1]), int(found[2]))] += 1
    for (platform, person, _), count in seen.items():
        tally = tallies.get(person // PER_PROCESS)
        if tally is not None and tally.platform == platform and count == 1:
            tally.stored += 1


# pid -> (CPU seconds it has used, memory figures in MiB): the bench reads /proc; tests don't.
Measure = Callable[[int], tuple[float, dict[str, float]]]


def adapter_env(platform: LoadPlatform, model: FakeOpenAIServer, db: Path) -> dict[str, str]:
    return {
        **clean_env(),
        **platform.env(),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_API_KEY": "load-key",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_MODEL": "fake-model",
        "TERTULIA_DB": str(db),
        # Every person writes in a closed loop or a burst: the rate limit would refuse it.
        "TERTULIA_RATE_PER_MINUTE": "0",
        "NO_PROXY": "127.0.0.1,localhost",
        **MEMORY_OFF,
    }


@asynccontextmanager
async def adapter(command: str, env: dict[str, str], log: Path, tally: Tally) -> AsyncIterator[int]:
    """`tertulia COMMAND` as a child process logging to `log`; its pid. On exit: SIGTERM,
    the drain awaited, and the ERROR lines it logged put in `tally.errors`."""
    with log.open("ab") as err:
        proc = await start_cli(command, env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
    try:
        yield proc.pid
        await terminate(proc, 30)
    finally:
        await kill(proc)
        logged = await asyncio.to_thread(log.read_text)
        tally.errors = [line for line in logged.splitlines() if "ERROR" in line or "Trace" in line]


async def until(predicate: Callable[[], bool], seconds: float) -> bool:
    """Whether `predicate()` came true within `seconds` (checked every 20 ms)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            # Polled: the Discord fake wakes its waiters on gateway events, not on the
            # bot's REST calls, so one way of waiting serves both platforms.
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    return predicate()


async def open_platform(stack: AsyncExitStack, name: str, k: int) -> LoadPlatform:
    """A fresh fake for process `k`; Telegram bots each get their own token."""
    if name == "discord":
        return DiscordLoad(await stack.enter_async_context(FakeDiscord()))
    api = FakeTelegramAPI(f"{700000 + k}:LOAD-token-{k}", bot_id=700000 + k, validate=False)
    return TelegramLoad(await stack.enter_async_context(api))


async def run(load: Load, tmp: Path, measure: Measure | None = None) -> Outcome:
    """Run `load` against fresh fakes and a fresh database in `tmp`; the audited outcome."""
    db = tmp / "load.db"
    size = -(-len(answer(1, 1)) // CHUNKS)
    processes = range(len(load.platforms))
    tallies = [Tally(name, expected=load.people * load.messages) for name in load.platforms]
    groups = [range(k * PER_PROCESS + 1, k * PER_PROCESS + load.people + 1) for k in processes]
    usage = measure or (lambda pid: (0.0, {}))
    async with AsyncExitStack() as stack:
        model = await stack.enter_async_context(
            FakeOpenAIServer(model_reply, chunk=size, chunk_delay=load.latency / CHUNKS)
        )
        platforms = [await open_platform(stack, name, k) for k, name in enumerate(load.platforms)]
        pids = await asyncio.gather(
            *(ready(stack, k, platforms[k], model, tmp, tallies[k]) for k in processes)
        )
        drivers = [Driver(p, people, load) for p, people in zip(platforms, groups, strict=True)]
        cpu = [usage(pid)[0] for pid in pids]
        started, own_cpu = time.monotonic(), time.process_time()
        for driver in drivers:
            driver.start()
        # What has not arrived by the timeout is counted as lost, not raised.
        await until(lambda: all(d.done() for d in drivers), load.timeout)
        wall, own_cpu = time.monotonic() - started, time.process_time() - own_cpu
        await asyncio.sleep(0.5)  # the last replies' final edits and bookkeeping
        for pid, before, tally, driver in zip(pids, cpu, tallies, drivers, strict=True):
            used, tally.memory = usage(pid)
            tally.cpu, tally.latencies = used - before, driver.latencies
        await stack.aclose()  # adapters stopped (drained), then the fakes
    for platform, people, tally in zip(platforms, groups, tallies, strict=True):
        audit_platform(platform.shown(), people, load, tally)
    audit_store(db, dict(enumerate(tallies)))
    return Outcome(load, tallies, wall, len(model.requests), own_cpu)


async def ready(
    stack: AsyncExitStack,
    k: int,
    platform: LoadPlatform,
    model: FakeOpenAIServer,
    tmp: Path,
    tally: Tally,
) -> int:
    """Start adapter process `k`; its pid once it has answered a first message."""
    started = time.monotonic()
    env = adapter_env(platform, model, tmp / "load.db")
    log = tmp / f"adapter{k}.log"
    pid = await stack.enter_async_context(adapter(platform.name, env, log, tally))
    probe = PROBE - k
    await platform.connected(120)
    platform.push(probe, question(probe, 0))
    if not await until(lambda: answer(probe, 0) in platform.shown().get(probe, []), 120):
        raise TimeoutError(f"adapter process {k} ({platform.name}) never answered")
    tally.startup = time.monotonic() - started
    return pid
