"""The dashboard's first page against 1M stored messages: cold in a real browser, and in AppTest.

Run: .venv/bin/python -m bench.bench_dashboard   (--quick: 50k messages; needs `make dashboard`
and /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.bench_recall_latency import CACHE, DATA_VERSION
from bench.common import create_store, schema_key
from tests.dashboard.browser import ARGS, CHART, CHROMIUM, free_port, wait_healthy

APP = Path(__file__).resolve().parent.parent / "adapters" / "dashboard" / "app.py"

PLATFORMS = (("telegram", 0.55), ("discord", 0.35), ("console", 0.10))
OUTCOMES = (("ok", 0.965), ("failed", 0.02), ("blocked", 0.005), ("interrupted", 0.005))
DAYS = 90
EXCHANGES = 10  # per conversation
PER_USER = 100  # messages per person
PHRASE = (
    "hola que tal me ayudas con la receta de hoy quiero aprender python y sql para el trabajo"
    " gracias por la respuesta the weather is nice can you explain this code please"
)
WORDS = PHRASE.split()


def dashboard_db(total: int, rebuild: bool) -> Path:
    """A cached file of `total` messages over DAYS days on three platforms; built once per schema."""
    path = CACHE / f"dashboard-{total}-{schema_key(DATA_VERSION)}.db"
    if path.exists() and not rebuild:
        print(f"   (cached: {path}; --rebuild to build it again)")
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"dashboard-{total}-*"):
        old.unlink()
    part = path.with_suffix(".part")
    part.unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(create_store(part))
    db = sqlite3.connect(part)
    with db:
        db.execute("PRAGMA journal_mode = DELETE")  # one writer, nothing to recover: no WAL
        db.execute("PRAGMA synchronous = OFF")
        populate(db, total)
        # Nothing for a store opened on it (the playground) to index in the background.
        db.execute("UPDATE recall_indexed SET through = (SELECT max(id) FROM messages)")
    db.execute("PRAGMA journal_mode = WAL")  # as the bot leaves it
    db.close()
    part.rename(path)
    size = path.stat().st_size / 2**20
    print(f"   (built {path} in {time.perf_counter() - started:.0f} s, {size:,.0f} MiB)")
    return path


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in table], [w for _, w in table])[0]


def populate(db: sqlite3.Connection, total: int) -> None:
    """People, conversations and exchanges as the store writes them, with latencies and ratings."""
    rng = random.Random(3)
    users = max(1, total // PER_USER)
    now = time.time()
    start = now - DAYS * 86400
    db.executemany(
        "INSERT INTO users (id, platform, platform_user_id, display_name, lang, created_at,"
        " tuning_consent) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (u, _pick(rng, PLATFORMS), f"p{u}", f"Person {u}", ("es", "en")[u % 3 == 0], start,
             int(u % 4 == 0))
            for u in range(1, users + 1)
        ),
    )  # fmt: skip
    conversations = total // (2 * EXCHANGES)
    owners = [1 + c % users for c in range(conversations)]
    db.executemany(
        "INSERT INTO conversations (id, user_id, chat_id, started_at, active) VALUES (?, ?, ?, ?, ?)",
        (
            (c + 1, u, f"chat{u}", start + c * DAYS * 86400 / conversations, 0)
            for c, u in enumerate(owners)
        ),
    )
    db.executemany(
        "INSERT INTO messages (id, user_id, conversation_id, chat_id, role, text, kind, outcome,"
        " tokens, created_at, first_token_ms, latency_ms, reply_to, rating, rating_reason,"
        " rated_at) VALUES (?, ?, ?, ?, ?, ?, 'chat', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _rows(rng, owners, start),
    )


def _rows(rng: random.Random, owners: list[int], start: float) -> Iterator[tuple[Any, ...]]:
    step = DAYS * 86400 / (len(owners) * EXCHANGES)
    mid = 0
    for c, u in enumerate(owners):
        for e in range(EXCHANGES):
            at = start + (c * EXCHANGES + e) * step
            said = " ".join(rng.choices(WORDS, k=rng.randint(3, 12)))
            reply = " ".join(rng.choices(WORDS, k=rng.randint(10, 40)))
            outcome = _pick(rng, OUTCOMES)
            latency = int(math.exp(rng.gauss(7.0, 0.6)))  # ~1.1 s median, a long tail
            rating = rng.choices((None, 1, -1), (0.9, 0.08, 0.02))[0] if outcome == "ok" else None
            reason = "wrong answer" if rating == -1 and rng.random() < 0.5 else None
            mid += 2
            yield (mid - 1, u, c + 1, f"chat{u}", "user", said, outcome, len(said) // 4 + 1, at,
                   None, None, None, None, None, None)  # fmt: skip
            yield (mid, u, c + 1, f"chat{u}", "assistant", reply, outcome, len(reply) // 4 + 1,
                   at + latency / 1000, latency // 5, latency, mid - 1, rating, reason,
                   at + 60 if rating else None)  # fmt: skip


def apptest(path: Path, runs: int) -> None:
    """The overview's script run in AppTest (no browser): cold caches, then warm."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ.update(_env(path, free_port()))
    sys.argv = [str(APP), "--env-file", "/nonexistent"]
    for label, window in (("30 days", 30), ("all", 0)):
        cold, warm = [], []
        for _ in range(runs):
            st.cache_data.clear()
            at = AppTest.from_file(APP, default_timeout=120)
            at.session_state["window"] = window
            cold.append(_timed(at.run))
            warm.append(_timed(at.run))
            assert not at.exception and len(at.get("vega_lite_chart")) == 5, at.exception
        print(f"    {label:<8} cold {_spread(cold)}   warm (cached) {_spread(warm)}")


async def browser(path: Path, runs: int) -> None:
    """Server start to the overview's charts drawn in Debian's chromium, and a reload."""
    from playwright.async_api import async_playwright

    from tests.processes import kill, start_cli, terminate

    log = Path(tempfile.gettempdir()) / "tertulia-bench-dashboard.log"
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        figures: dict[str, list[float]] = {"up": [], "first": [], "page": [], "reload": []}
        for _ in range(runs):
            port = free_port()
            started = time.perf_counter()
            with log.open("wb") as out:
                proc = await start_cli("dashboard", _env(path, port), stdout=out, stderr=out)
            try:
                await wait_healthy(port, proc, log)
                figures["up"].append(time.perf_counter() - started)
                page = await chromium.new_page(viewport={"width": 1400, "height": 1000})
                opened = time.perf_counter()
                await page.goto(f"http://127.0.0.1:{port}/")
                await page.locator(CHART).first.wait_for(timeout=120_000)
                figures["first"].append(time.perf_counter() - started)
                figures["page"].append(time.perf_counter() - opened)
                reloaded = time.perf_counter()
                await page.reload()
                await page.locator(CHART).first.wait_for(timeout=120_000)
                figures["reload"].append(time.perf_counter() - reloaded)
                await page.close()
                await terminate(proc, 30)
            finally:
                await kill(proc)
        await chromium.close()
    print(f"    server start to health check      {_spread(figures['up'])}")
    print(f"    server start to the first chart   {_spread(figures['first'])}")
    print(f"    of which page opened to the chart {_spread(figures['page'])}")
    print(f"    reload, figures cached            {_spread(figures['reload'])}")


def _env(path: Path, port: int) -> dict[str, str]:
    from tests.processes import clean_env

    return {
        **clean_env(),
        "TERTULIA_DB": str(path),
        "TERTULIA_BACKEND": "openai",  # never asked: the overview reads the database only
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "x",
        "TERTULIA_DASHBOARD_PORT": str(port),
    }


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _spread(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (
        f"median {ordered[len(ordered) // 2]:.2f} s (min {ordered[0]:.2f}, max {ordered[-1]:.2f})"
    )


def without_index(path: Path) -> Path:
    """A copy of `path` without migration 011's index: what the charts cost before it."""
    copy = path.with_name(path.stem + "-noindex.db")
    if not copy.exists():
        shutil.copyfile(path, copy)
        with sqlite3.connect(copy) as db:
            db.execute("DROP INDEX messages_dashboard")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50,000 messages instead of 1M")
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    total = 50_000 if args.quick else 1_000_000
    print(f"Dashboard, first page (overview), {total:,} stored messages over {DAYS} days")
    path = dashboard_db(total, args.rebuild)
    print("  AppTest: the page's script, queries and chart specs, no browser")
    apptest(path, args.runs)
    print("  the same without migration 011's index")
    apptest(without_index(path), args.runs)
    print("  Debian's chromium (Playwright) on `tertulia dashboard` as a process")
    asyncio.run(browser(path, args.runs))


if __name__ == "__main__":
    main()
