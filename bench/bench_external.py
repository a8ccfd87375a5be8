"""The adapter as its own process, through the real model clients: cost per message from outside.

Run: .venv/bin/python -m bench.bench_external   (--platform telegram|discord, --quick)

`tertulia telegram` (model: google-genai against a fake Gemini server) and `tertulia
discord` (model: the openai SDK against a fake OpenAI-compatible server) run as child
processes, exactly as `tertulia run` starts them. The fake platform and the fake model
server run here, in the benchmark's process, so the child's CPU time (read from /proc)
is the adapter's whole cost: the platform SDK, the engine, SQLite and the model client.
The answer is 599 characters in 20 chunks, instant or paced at 25 ms per chunk; each
chat sends its next message once the previous answer is complete (a closed loop).
Added latency = message pushed by the fake platform -> the whole answer delivered to it,
less the model's own streaming time (20 x pace).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import percentile

ROOT = Path(__file__).resolve().parent.parent
CHUNKS = 20
# Plain prose (no Markdown), so what the platform shows is exactly what the model said.
ANSWER = (
    "Claro, te lo explico con calma. El refinamiento de un modelo de lenguaje consiste en "
    "seguir entrenándolo con ejemplos limpios y específicos de la tarea que te interesa, "
    "para que sus respuestas se parezcan más a las que esperas. La calidad de los datos "
    "importa más que la cantidad: si los ejemplos son confusos o contradictorios, el "
    "modelo aprende esos defectos. Por eso conviene revisar cada conversación, quitar los "
    "datos personales y descartar las respuestas que nadie valoró bien. Después se separa "
    "un conjunto de validación y se compara el modelo antes y después del ajuste."
)[:599]
TICKS = os.sysconf("SC_CLK_TCK")
PROBE = 999  # the chat whose first answer says the adapter is ready


def chunks(text: str, n: int = CHUNKS) -> tuple[str, ...]:
    size = -(-len(text) // n)
    return tuple(text[i : i + size] for i in range(0, len(text), size))


@dataclass(slots=True)
class Run:
    """One load on one adapter process: what was asked and what it cost."""

    platform: str
    chats: int
    per_chat: int
    pace: float  # seconds between model chunks
    history_tokens: int = 0  # context carried by each request (seeded conversation)
    messages: int = 0
    wall: float = 0.0
    cpu: float = 0.0  # the adapter process's CPU seconds during the load
    calls: int = 0  # platform API calls during the load (long polls excluded)
    latencies: tuple[float, ...] = ()
    startup: float = 0.0
    peak_rss_mib: float = 0.0

    def row(self) -> str:
        # Added latency: what the person waits beyond the model's own streaming time.
        lat = [t - CHUNKS * self.pace for t in self.latencies]
        return (
            f"{self.platform:8} {self.chats:>5} {self.pace * 1000:>5.0f} {self.history_tokens:>7}"
            f" {self.messages / self.wall:>8.0f} {self.cpu * 1000 / self.messages:>8.2f}"
            f" {percentile(lat, 50) * 1000:>8.0f} {percentile(lat, 99) * 1000:>8.0f}"
            f" {self.calls / self.messages:>6.2f} {self.startup:>7.2f} {self.peak_rss_mib:>7.1f}"
        )


HEADER = (
    f"{'platform':8} {'chats':>5} {'pace':>5} {'context':>7} {'msg/s':>8} {'CPU ms':>8}"
    f" {'+p50 ms':>8} {'+p99 ms':>8} {'calls':>6} {'start s':>7} {'RSS MiB':>7}"
)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _until(predicate: Callable[[], object], timeout: float = 30.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the adapter did not get there in time")
        await asyncio.sleep(0.002)


# Background memory (facts, summaries, vectors) is off unless --memory: the figures then
# compare with earlier releases. With --memory the model's facts answers are the fixed
# reply, not JSON: each extraction fails and is logged, which costs what a call costs.
MEMORY_OFF = {"TERTULIA_LEARN": "off", "TERTULIA_EMBEDDER": "none"}
memory_env: dict[str, str] = dict(MEMORY_OFF)

PROFILE_DIR = os.environ.get("BENCH_PROFILE")  # cProfile each adapter process into this folder


@asynccontextmanager
async def adapter_process(command: str, env: dict[str, str]) -> AsyncIterator[int]:
    """`tertulia COMMAND` as a child process; its pid. SIGTERM and reaped on exit."""
    from tests.processes import NO_SETTINGS, clean_env, terminate

    profile: list[str] = []
    if PROFILE_DIR:
        out = Path(PROFILE_DIR) / f"{command}-{time.monotonic_ns()}.prof"
        profile = ["-m", "bench.profiled", str(out)]
    else:
        profile = ["-m", "adapters.cli"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *profile, "--env-file", NO_SETTINGS, command,
        # The benchmark's chats write in a closed loop: no per-person rate limit.
        cwd=ROOT, env={**clean_env(), "TERTULIA_RATE_PER_MINUTE": "0", **env},
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc.pid
    finally:
        stderr = await terminate(proc, 20)
        noise = [line for line in stderr.decode().splitlines() if "ERROR" in line]
        if noise:
            print("\n".join(noise[:5]), file=sys.stderr)


async def seed(db: Path, key: tuple[str, str, str], tokens: int) -> None:
    """A conversation carrying about `tokens` tokens of earlier exchanges (answered, ok)."""
    from bot.models import rough_tokens
    from bot.types import ConversationKey, Outcome, TurnKind
    from storage.sqlite import SqliteStore

    question = "¿Me lo puedes explicar otra vez con un ejemplo distinto, por favor? " * 2
    async with SqliteStore(db) as store:
        carried = 0
        while carried < tokens:
            got = await store.ingest(
                ConversationKey(*key),
                display_name="bench",
                platform_message_id=None,
                text=question,
                kind=TurnKind.CHAT,
                tokens=rough_tokens(question),
            )
            assert got is not None
            await store.complete(
                got.ref,
                reply=ANSWER,
                outcome=Outcome.OK,
                tokens=rough_tokens(ANSWER),
                first_token_ms=None,
                latency_ms=0,
            )
            carried += rough_tokens(question) + rough_tokens(ANSWER)


async def run_telegram(run: Run, tmp: Path) -> None:
    from tests.fakes.gemini_server import FakeGeminiServer, Reply
    from tests.fakes.telegram_api import BotMessage, FakeTelegramAPI

    db = tmp / f"{id(run)}.db"  # fresh: a new fake numbers its messages from 1 again
    if run.history_tokens:
        await seed(db, ("telegram", "1", "1"), run.history_tokens)
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(FakeTelegramAPI(validate=False))
        model = await stack.enter_async_context(
            FakeGeminiServer(Reply(chunks=chunks(ANSWER), delay=run.pace))
        )
        env = {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.root,
            "TERTULIA_BACKEND": "gemini",
            "GEMINI_API_KEY": "bench-key",
            "GEMINI_BASE_URL": model.base_url,
            "TERTULIA_DB": str(db),
            "TERTULIA_CONTEXT_TOKENS": str(max(3000, run.history_tokens + 1000)),
            **memory_env,
        }
        started = time.monotonic()
        pid = await stack.enter_async_context(adapter_process("telegram", env))
        # Ready = a first message answered (getUpdates alone comes before the model opens).
        api.push_text(PROBE, PROBE, "hola")
        await _until(lambda: ANSWER in api.texts(PROBE))
        run.startup = time.monotonic() - started - CHUNKS * run.pace  # less the model's time

        pushed: dict[int, float] = {}
        sent = dict.fromkeys(range(1, run.chats + 1), 0)
        latencies: list[float] = []

        def push(chat: int) -> None:
            sent[chat] += 1
            pushed[chat] = time.monotonic()
            api.push_text(chat, chat, f"pregunta número {sent[chat]}")

        def on_message(msg: BotMessage) -> None:
            if msg.text != ANSWER or msg.chat_id not in pushed:
                return
            latencies.append(time.monotonic() - pushed.pop(msg.chat_id))
            if sent[msg.chat_id] < run.per_chat:
                push(msg.chat_id)

        api.on_message = on_message
        calls, cpu, t0 = len(api.calls), _cpu_seconds(pid), time.monotonic()
        for chat in sent:
            push(chat)
        await _until(lambda: len(latencies) == run.chats * run.per_chat, timeout=300)
        await asyncio.sleep(0.05)  # let the last reply's bookkeeping finish
        run.wall = time.monotonic() - t0
        run.cpu = _cpu_seconds(pid) - cpu
        run.calls = sum(1 for m, _ in api.calls[calls:] if m != "getUpdates")
        run.latencies, run.messages = tuple(latencies), len(latencies)
        run.peak_rss_mib = _peak_rss_mib(pid)


async def run_discord(run: Run, tmp: Path) -> None:
    from tests.fakes.discord_api import TOKEN, FakeDiscord, FakeMessage
    from tests.fakes.openai_server import FakeOpenAIServer

    db = tmp / f"{id(run)}.db"
    if run.history_tokens:
        await seed(db, ("discord", "1", "5001"), run.history_tokens)
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeDiscord())
        size = len(chunks(ANSWER)[0])
        model = await stack.enter_async_context(
            FakeOpenAIServer(ANSWER, chunk=size, chunk_delay=run.pace)
        )
        env = {
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_BASE_URL": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "TERTULIA_BACKEND": "openai",
            "OPENAI_API_KEY": "bench-key",
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_MODEL": "fake-model",
            "TERTULIA_DB": str(db),
            "TERTULIA_CONTEXT_TOKENS": str(max(3000, run.history_tokens + 1000)),
            "OPENAI_EMBEDDING_MODEL": "text-embedding-3-small",
            **memory_env,
        }
        started = time.monotonic()
        pid = await stack.enter_async_context(adapter_process("discord", env))
        # Ready = a first message answered (commands are synced before the gateway opens).
        await fake.wait_ready(timeout=30)
        probe = await fake.dm(PROBE, "hola")
        await _until(lambda: any(m.reply_to == probe for m in fake.bot_messages()))
        run.startup = time.monotonic() - started - CHUNKS * run.pace  # less the model's time

        pushed: dict[int, tuple[int, float]] = {}  # channel -> (message id, sent at)
        sent = dict.fromkeys(range(1, run.chats + 1), 0)
        latencies: list[float] = []

        async def push(user: int) -> None:
            sent[user] += 1
            at = time.monotonic()
            mid = await fake.dm(user, f"pregunta número {sent[user]}")
            pushed[5000 + user] = (mid, at)

        def on_content(msg: FakeMessage) -> None:
            entry = pushed.get(msg.channel_id)
            if msg.content != ANSWER or entry is None or msg.reply_to != entry[0]:
                return
            del pushed[msg.channel_id]
            latencies.append(time.monotonic() - entry[1])
            user = msg.channel_id - 5000
            if sent[user] < run.per_chat:
                loop.create_task(push(user))

        fake.on_content = on_content
        calls, cpu, t0 = len(fake.calls), _cpu_seconds(pid), time.monotonic()
        for user in sent:
            await push(user)
        await _until(lambda: len(latencies) == run.chats * run.per_chat, timeout=300)
        await asyncio.sleep(0.05)
        run.wall = time.monotonic() - t0
        run.cpu = _cpu_seconds(pid) - cpu
        run.calls = len(fake.calls) - calls
        run.latencies, run.messages = tuple(latencies), len(latencies)
        run.peak_rss_mib = _peak_rss_mib(pid)


RUNNERS = {"telegram": run_telegram, "discord": run_discord}


def _key(only: str) -> tuple[int, int, int]:
    """'CHATS PACE_MS [CONTEXT]' as a run's key."""
    chats, pace, *context = (int(x) for x in only.split())
    return chats, pace, context[0] if context else 0


def plan(platforms: list[str], quick: bool) -> list[Run]:
    runs: list[Run] = []
    for platform in platforms:
        for pace in (0.0, 0.025):
            for chats in (1, 10) if quick else (1, 10, 100):
                # One chat gets more messages: /proc counts CPU in 10 ms ticks.
                runs.append(Run(platform, chats, 5 if chats > 1 else 30, pace))
        for history in (3000, 12000):
            runs.append(Run(platform, 1, 30, 0.0, history_tokens=history))
    return runs


async def main_async(platforms: list[str], quick: bool, only: str | None = None) -> list[Run]:
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    done: list[Run] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for run in plan(platforms, quick):
            if only and (run.chats, round(run.pace * 1000), run.history_tokens) != _key(only):
                continue
            await RUNNERS[run.platform](run, Path(tmp))
            print(run.row(), flush=True)
            done.append(run)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", choices=sorted(RUNNERS), action="append")
    parser.add_argument("--quick", action="store_true", help="1 and 10 chats only")
    parser.add_argument("--only", help="runs whose row matches, e.g. '100 25' (chats, pace ms)")
    parser.add_argument(
        "--memory", action="store_true", help="facts, summaries and embeddings on (defaults)"
    )
    args = parser.parse_args()
    if args.memory:
        memory_env.clear()
    platforms = args.platform or ["telegram", "discord"]
    print(f"adapter process through the real model clients, {os.cpu_count()} CPUs")
    print("telegram: python-telegram-bot + google-genai; discord: discord.py + openai")
    print("pace = ms between model chunks; context = tokens of history per request;")
    print("CPU ms = the adapter process's CPU per message; calls = platform API calls per reply")
    print("memory: " + ("facts, summaries, embeddings on" if args.memory else "recall by words"))
    print(HEADER)
    runs = asyncio.run(main_async(platforms, args.quick, args.only))
    for platform in platforms:
        starts = [r.startup for r in runs if r.platform == platform]
        print(f"{platform} start-up to ready: median {statistics.median(starts):.2f} s")


if __name__ == "__main__":
    main()
