"""Helpers shared by the benchmarks: percentiles, an instant model, the adapter benches' harness."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import statistics
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.models import rough_tokens
from bot.types import Turn

if TYPE_CHECKING:
    from bot.engine import Engine


class InstantModel:
    """Answers at once, so a benchmark measures everything but the model."""

    backend = "instant"
    model = "instant"
    accepts_images = True
    context_tokens = 8192

    def __init__(self, reply: str = "Claro, aquí tienes una respuesta breve.") -> None:
        self.reply = reply

    def estimate_tokens(self, text: str) -> int:
        return rough_tokens(text)

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        yield self.reply

    async def aclose(self) -> None:
        pass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# -- adapter benches: the fake platform in a child process, a closed loop per chat ------------

ANSWER = (
    "Claro. Una respuesta de tamaño típico, con **algo de formato** y una lista:\n\n"
    "- primer punto, breve\n- segundo punto, algo más largo que el primero\n\n"
    "Y un párrafo final para que el texto llegue en varios trozos del modelo."
)


@asynccontextmanager
async def answering_engine(db: Path) -> AsyncIterator[Engine]:
    """An engine on a new SQLite file at `db` whose model streams ANSWER in 16-char chunks."""
    from bot.engine import Engine
    from config.personas import load_personas
    from storage.memory import SqliteMemory
    from tests.fakes.model import FakeModel

    async with SqliteMemory(db) as memory:
        yield Engine(memory, FakeModel(ANSWER, chunk=16), personas=load_personas())


def spawn(target: Callable[..., None], *args: Any) -> tuple[Connection, BaseProcess]:
    """Start `target(conn, *args)` in a spawned child: our end of the pipe, and the child."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=target, args=(theirs, *args))
    child.start()
    return ours, child


async def fake_side(
    conn: Connection,
    address: object,
    start: Callable[[], Awaitable[None]],
    done: asyncio.Event,
    latencies: list[float],
) -> None:
    """The fake's part: send `address`, time start() until `done`, report, wait for the stop."""
    loop = asyncio.get_running_loop()
    conn.send(address)
    await loop.run_in_executor(None, conn.recv)  # "go": the adapter is connected
    started, cpu = time.monotonic(), time.process_time()
    await start()
    await done.wait()
    conn.send((latencies, time.monotonic() - started, time.process_time() - cpu))
    await loop.run_in_executor(None, conn.recv)  # "stop": the adapter has stopped


async def adapter_side(conn: Connection) -> tuple[list[float], float, float, float]:
    """Say "go" to the fake; (latencies, wall s, fake CPU s, our CPU s) once it is done."""
    loop = asyncio.get_running_loop()
    cpu = time.process_time()
    conn.send("go")
    latencies, wall, fake_cpu = await loop.run_in_executor(None, conn.recv)
    return latencies, wall, fake_cpu, time.process_time() - cpu


def figures(latencies: Sequence[float], wall: float, cpu: float) -> dict[str, Any]:
    """The figures both adapter benches report, from one run."""
    n = len(latencies)
    return {
        "messages": n,
        "wall_s": wall,
        "msgs_per_s": n / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_ms_per_msg": cpu * 1000 / n,
    }


def print_figures(r: dict[str, Any]) -> None:
    print(f"  messages        {r['messages']} in {r['wall_s']:.2f} s")
    print(f"  throughput      {r['msgs_per_s']:.0f} messages/s")
    print(f"  added latency   p50 {r['p50_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms")
    print(f"  adapter CPU     {r['cpu_ms_per_msg']:.2f} ms per message (engine + SQLite included)")
