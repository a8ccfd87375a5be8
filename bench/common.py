"""Helpers shared by the benchmarks: percentiles, the adapter benches' harness, and the
fingerprint of cached database files."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sqlite3
import statistics
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.runtime import Runtime
    from config.settings import Settings


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
async def answering_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The adapter's runtime (settings.db) with a model that streams ANSWER in 16-char chunks."""
    from adapters.runtime import open_runtime
    from tests.fakes.model import FakeModel

    async with open_runtime(settings, model=FakeModel(ANSWER, chunk=16, record=False)) as rt:
        yield rt


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


async def create_store(path: Path) -> None:
    """A new database file with the store's own migrations, and nothing in it."""
    from storage.sqlite import SqliteStore

    async with SqliteStore(path):
        pass


def schema_key(version: int) -> str:
    """A fingerprint of the schema a new store creates, and the bench's own data `version`:
    a cached file made under another key is stale."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schema.db"
        asyncio.run(create_store(path))
        db = sqlite3.connect(path)
        rows = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        key = zlib.crc32(repr(rows.fetchall()).encode())
        db.close()
    return f"v{version}-{key:08x}"
