"""`tertulia telegram` as a real process with TERTULIA_LOG_FORMAT=json and metrics served.

Telegram is the fake Bot API, the model the fake OpenAI server, the store a real SQLite file;
/metrics is scraped over HTTP, as Prometheus would.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.adapters.conftest import run_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env, kill, start_cli, terminate

# Ids as long as real Telegram ones: a two-digit id turned up inside a 16-digit hex
# pseudonym by chance ("42ece999...", about one run in 17), failing the check below.
ANA, BEN = 5_842_170_093, 5_842_170_094
QUESTIONS = {ANA: ["¿qué es un ornitorrinco?", "cuéntame más del ornitorrinco"], BEN: ["hola"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def parsed(log: Path) -> list[dict[str, Any]]:
    """Every line of the process's stderr, each of which must be one JSON object."""
    return [json.loads(line) for line in log.read_text().splitlines()]


def answered(api: FakeTelegramAPI, chat: int, n: int) -> Callable[[], bool]:
    return lambda: len(api.texts(chat)) == n


async def scrape(port: int) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


async def scrape_when(port: int, name: str, value: float) -> str:
    """/metrics once sample `name` reaches `value` (within about 10 s): a reply is counted
    after its last message reached the platform, so a scrape right then may be early."""
    for _ in range(200):
        metrics = await scrape(port)
        if sample(metrics, name) >= value:
            break
        await asyncio.sleep(0.05)
    return metrics


def sample(metrics: str, name: str) -> float:
    """The value of one sample line (`name` with its labels, exactly as exposed), 0 if absent."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_json_reply_lines_and_metrics_of_a_telegram_process(tmp_path: Path) -> None:
    log, port = tmp_path / "telegram.log", free_port()
    async with FakeTelegramAPI() as api, FakeOpenAIServer("Un mamífero que pone huevos.") as llm:
        env = {
            **clean_env(),
            "NO_PROXY": "127.0.0.1,localhost",
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.root,
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "x",
            "TERTULIA_EMBEDDER": "none",
            "TERTULIA_LEARN": "off",
            "TERTULIA_LOG_LEVEL": "info",
            "TERTULIA_LOG_FORMAT": "Json",
            "TERTULIA_METRICS_PORT": str(port),  # telegram's offset is 0
        }
        with log.open("wb") as err:
            proc = await start_cli("telegram", env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            before = await scrape(port)
            for person, questions in QUESTIONS.items():
                for n, question in enumerate(questions, 1):
                    api.push_text(person, person, question)
                    await api.wait_for(answered(api, person, n), timeout=15)
            api.push_text(ANA, ANA, "/help")  # a command: no model, no reply line
            await api.wait_for(lambda: len(api.texts(ANA)) == 3, timeout=15)
            ok = 'tertulia_replies_total{outcome="ok",platform="telegram"}'
            after = await scrape_when(port, ok, 3)
            await terminate(proc, 15)
        finally:
            await kill(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]
    records = parsed(log)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    lines = [r for r in records if r["logger"] == "tertulia.reply"]
    assert len(lines) == 3 == len(llm.requests)  # one per model reply, none for /help
    assert {r["outcome"] for r in lines} == {"ok"} and {r["platform"] for r in lines} == {
        "telegram"
    }
    assert len({r["reply_id"] for r in lines}) == 3
    assert all(r["tokens"] > 0 and r["latency_ms"] >= r["first_token_ms"] >= 0 for r in lines)
    ana, _, ben = (r["person"] for r in lines)
    assert ana == lines[1]["person"] != ben  # one pseudonym per person, never the id
    assert str(ANA) not in ana and str(BEN) not in ben
    text = log.read_text()
    for said in ("ornitorrinco", "hola", "mamífero", "mam\\u00edfero"):
        assert said not in text

    assert sample(before, ok) == 0 and sample(after, ok) == 3
    tokens = 'tertulia_model_tokens_total{platform="telegram"}'
    assert sample(after, tokens) == sum(r["tokens"] for r in lines)
    latency = 'tertulia_reply_latency_seconds_count{platform="telegram"}'
    assert sample(after, latency) == 3
    assert sample(after, 'tertulia_reply_first_token_seconds_count{platform="telegram"}') == 3
    assert "tertulia_queue_depth " in after and sample(after, "process_start_time_seconds") > 0


async def test_run_gives_each_platform_process_its_own_metrics_port(tmp_path: Path) -> None:
    base = free_port()
    while not all(_free(base + i) for i in (0, 1)):
        base = free_port()
    async with (
        FakeTelegramAPI() as tg,
        FakeDiscord() as dc,
        FakeOpenAIServer("ok") as llm,
    ):
        env = {**run_env(tg, dc, llm, tmp_path / "t.db"), "TERTULIA_METRICS_PORT": str(base)}
        proc = await start_cli("run", env, stderr=asyncio.subprocess.PIPE)
        try:
            await tg.wait_for(lambda: tg.calls_of("getUpdates"), timeout=40)
            await dc.wait_for(lambda: dc.identifies and dc.commands, timeout=40)
            tg.push_text(ANA, ANA, "hola")
            await dc.dm(77, "hola")
            await tg.wait_for(lambda: tg.texts(ANA) == ["ok"], timeout=15)
            await dc.wait_for(lambda: [m.content for m in dc.bot_messages()] == ["ok"], 15)
            one = 'tertulia_replies_total{outcome="ok",platform="%s"}'
            telegram = await scrape_when(base, one % "telegram", 1)
            discord = await scrape_when(base + 1, one % "discord", 1)
            stderr = await terminate(proc, 30)
        finally:
            await kill(proc)
    assert proc.returncode == 0, stderr.decode()
    assert sample(telegram, one % "telegram") == 1 and sample(telegram, one % "discord") == 0
    assert sample(discord, one % "discord") == 1 and sample(discord, one % "telegram") == 0


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_a_metrics_port_in_use_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeTelegramAPI() as api, FakeOpenAIServer() as llm:
            env = {
                **clean_env(),
                "NO_PROXY": "127.0.0.1,localhost",
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_BASE_URL": api.root,
                "TERTULIA_DB": str(tmp_path / "t.db"),
                "OPENAI_BASE_URL": llm.base_url,
                "TERTULIA_METRICS_PORT": str(port),
            }
            proc = await start_cli("telegram", env, stdout=asyncio.subprocess.DEVNULL,
                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
            try:
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            finally:
                await kill(proc)
    lines = err.decode().splitlines()
    assert proc.returncode == 2, lines
    assert len(lines) == 1 and lines[0].startswith("tertulia: TERTULIA_METRICS_PORT:"), lines
