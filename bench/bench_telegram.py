"""Telegram adapter throughput and added latency: 100 concurrent chats, an instant model.

Run: .venv/bin/python -m bench.bench_telegram   (--chats N --per-chat M --interval S)

The fake Bot API runs in a child process so the CPU figure is the adapter's own (PTB,
rendering, the engine and SQLite); the clock is CLOCK_MONOTONIC, shared by both processes.
Each chat sends its next message as soon as the previous answer is complete (a closed loop).
Latency = update queued at the fake -> final text delivered, with a model that takes ~0 s.
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


def fake_api_process(conn: Connection, chats: int, per_chat: int, expected: str) -> None:
    asyncio.run(_fake_api(conn, chats, per_chat, expected))


async def _fake_api(conn: Connection, chats: int, per_chat: int, expected: str) -> None:
    from tests.fakes.telegram_api import BotMessage, FakeTelegramAPI

    async with FakeTelegramAPI(validate=False) as api:
        api.record_calls = False
        pushed: dict[int, float] = {}
        sent = dict.fromkeys(range(1, chats + 1), 0)
        latencies: list[float] = []
        done = asyncio.Event()

        def push(chat: int) -> None:
            sent[chat] += 1
            pushed[chat] = time.monotonic()
            api.push_text(chat, chat, f"pregunta número {sent[chat]}")

        def on_message(msg: BotMessage) -> None:
            if msg.text != expected or msg.chat_id not in pushed:
                return
            latencies.append(time.monotonic() - pushed.pop(msg.chat_id))
            if sent[msg.chat_id] < per_chat:
                push(msg.chat_id)
            elif len(latencies) == chats * per_chat:
                done.set()

        async def start() -> None:
            for chat in sent:
                push(chat)

        api.on_message = on_message
        await fake_side(conn, (api.root, api.token), start, done, latencies)


async def run(chats: int, per_chat: int, interval: float) -> dict[str, Any]:
    from adapters.telegram import app as telegram
    from adapters.telegram.render import render
    from config.settings import Settings

    expected = render(ANSWER)[0]
    ours, child = spawn(fake_api_process, chats, per_chat, expected)
    loop = asyncio.get_running_loop()
    root, token = await loop.run_in_executor(None, ours.recv)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_API_BASE_URL=root,
            TERTULIA_EDIT_INTERVAL=interval,
            TERTULIA_RATE_PER_MINUTE=0,  # the load is the point: no per-person limit
            TERTULIA_DB=Path(tmp) / "bench.db",
        )
        async with answering_runtime(settings) as rt:
            stop, ready = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(
                telegram.serve(settings, rt.session, rt.engine.commands(), stop, ready=ready)
            )
            await ready.wait()
            latencies, wall, fake_cpu, cpu = await adapter_side(ours)
            stop.set()
            await task
    ours.send("stop")
    child.join(10)
    return {
        **figures(latencies, wall, cpu),
        "fake_cpu_share": fake_cpu / wall,
        "cpu_share": cpu / wall,
    }


def report(title: str, r: dict[str, Any]) -> None:
    print(title)
    print_figures(r)
    print(f"  CPU busy        adapter {r['cpu_share']:.0%}, fake Bot API {r['fake_cpu_share']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--per-chat", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0, help="edit interval (s)")
    args = parser.parse_args()
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    logging.basicConfig(level=logging.WARNING)
    setup = f"instant model, edit interval {args.interval}s, {os.cpu_count()} CPUs"
    # One chat first: the latency a message pays with no queue in front of it.
    alone = asyncio.run(run(1, 30, args.interval))
    report(f"telegram adapter, 1 chat x 30 messages, {setup}", alone)
    loaded = asyncio.run(run(args.chats, args.per_chat, args.interval))
    report(f"telegram adapter, {args.chats} concurrent chats x {args.per_chat} messages", loaded)


if __name__ == "__main__":
    main()
