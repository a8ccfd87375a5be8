"""Discord adapter throughput and added latency: 100 concurrent channels, an instant model.

Run: .venv/bin/python -m bench.bench_discord   (--channels N --per-channel M --interval S)

The fake Discord (REST + gateway) runs in a child process so the CPU figure is the
adapter's own (discord.py, the engine and SQLite); the clock is CLOCK_MONOTONIC, shared
by both processes. Each DM channel sends its next message as soon as the previous answer
is complete (a closed loop). Latency = MESSAGE_CREATE sent by the gateway -> final text
stored by the fake REST API, with a model that takes ~0 s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import (
    ANSWER,
    adapter_side,
    answering_runtime,
    fake_side,
    figures,
    print_figures,
    spawn,
)


def fake_discord_process(conn: Connection, channels: int, per_channel: int) -> None:
    asyncio.run(_fake_discord(conn, channels, per_channel))


async def _fake_discord(conn: Connection, channels: int, per_channel: int) -> None:
    from tests.fakes.discord_api import TOKEN, FakeDiscord, FakeMessage

    loop = asyncio.get_running_loop()
    async with FakeDiscord() as fake:
        fake.record_calls = False
        users = range(1, channels + 1)
        pushed: dict[int, tuple[int, float]] = {}  # channel -> (message id, sent at)
        sent = dict.fromkeys(users, 0)
        latencies: list[float] = []
        done = asyncio.Event()

        async def push(user: int) -> None:
            sent[user] += 1
            started = time.monotonic()
            mid = await fake.dm(user, f"pregunta número {sent[user]}")
            pushed[5000 + user] = (mid, started)

        def on_content(msg: FakeMessage) -> None:
            entry = pushed.get(msg.channel_id)
            if msg.content != ANSWER or entry is None or msg.reply_to != entry[0]:
                return
            del pushed[msg.channel_id]
            latencies.append(time.monotonic() - entry[1])
            user = msg.channel_id - 5000
            if sent[user] < per_channel:
                loop.create_task(push(user))
            elif len(latencies) == channels * per_channel:
                done.set()

        async def start() -> None:
            for user in users:
                await push(user)

        fake.on_content = on_content
        await fake_side(conn, (fake.api_base, fake.gateway_url, TOKEN), start, done, latencies)


async def run(channels: int, per_channel: int, interval: float) -> dict[str, Any]:
    from config.settings import Settings
    from tests.adapters.discord_harness import running_bot

    ours, child = spawn(fake_discord_process, channels, per_channel)
    loop = asyncio.get_running_loop()
    api, gateway, token = await loop.run_in_executor(None, ours.recv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DISCORD_BOT_TOKEN=token,
            DISCORD_API_BASE_URL=api,
            DISCORD_GATEWAY_URL=gateway,
            TERTULIA_EDIT_INTERVAL=interval,
            TERTULIA_RATE_PER_MINUTE=0,  # the load is the point: no per-person limit
            TERTULIA_DB=Path(tmp) / "bench.db",
        )
        async with answering_runtime(settings) as rt, running_bot(rt.session, settings):
            latencies, wall, fake_cpu, cpu = await adapter_side(ours)
            await rt.session.drain()
    ours.send("stop")
    child.join(10)
    return {
        **figures(latencies, wall, cpu),
        "fake_cpu_ms_per_msg": fake_cpu * 1000 / len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--per-channel", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0, help="edit interval (s)")
    args = parser.parse_args()
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    logging.basicConfig(level=logging.WARNING)
    r = asyncio.run(run(args.channels, args.per_channel, args.interval))
    print(
        f"discord adapter, {args.channels} concurrent channels x {args.per_channel} messages, "
        f"instant model, edit interval {args.interval}s, {os.cpu_count()} CPUs"
    )
    print_figures(r)
    print(f"  fake CPU        {r['fake_cpu_ms_per_msg']:.2f} ms per message (the other process)")


if __name__ == "__main__":
    main()
