"""The per-reply log line, its JSON form and metrics: a real engine, SQLite file and session.

The model is the scripted FakeModel; the platform a recording surface; the store real.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from adapters import logs
from adapters.delivery import ChatGone, Rejected
from adapters.metrics import Metrics, for_platform
from adapters.observe import Observer
from adapters.session import Session
from bot.ports import ModelBlocked, ModelError
from bot.types import CommandCall, Outcome
from config.settings import Settings, SettingsError, load_settings
from storage.sqlite import SqliteStore
from tests.conftest import MakeEngine, msg
from tests.delivery.surfaces import Clock, RecordingSurface
from tests.fakes.model import FakeModel

FIELDS = {
    "person", "platform", "outcome", "reply_id", "prompt_id",
    "latency_ms", "first_token_ms", "tokens", "total_ms",
}  # fmt: skip
SECRET = "sk-observability-key-0123456789abcdef"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def json_lines(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """Everything logged meanwhile, as the JSON handler of an operator's process writes it.

    INFO by default: at DEBUG, aiosqlite writes every statement with its parameters."""
    out = io.StringIO()
    installed = logs.handler(settings(TERTULIA_LOG_FORMAT="json", OPENAI_API_KEY=SECRET), out)
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    root.addHandler(installed)
    try:
        yield out
    finally:
        root.removeHandler(installed)
        root.setLevel(before)


def reply_lines(out: io.StringIO) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    return [r for r in records if r["logger"] == "tertulia.reply"]


async def observed(
    store: SqliteStore, make_engine: MakeEngine, model: FakeModel
) -> tuple[Session, Metrics, Clock]:
    metrics = Metrics(lambda: 0)
    observer = Observer(await store.log_salt(), metrics)
    clock = Clock()
    engine = make_engine(model)
    return Session(engine, clock.policy(interval=0), clock=clock, observer=observer), metrics, clock


def scraped(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


# -- the pseudonym ---------------------------------------------------------------------


async def test_each_database_has_its_own_random_salt_kept_across_restarts(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as a, SqliteStore(tmp_path / "b.db") as b:
        salt_a, salt_b = await a.log_salt(), await b.log_salt()
    async with SqliteStore(tmp_path / "a.db") as again:
        assert await again.log_salt() == salt_a
    assert len(salt_a) == 32 and salt_a != salt_b


def test_the_person_is_a_keyed_hash_not_an_enumerable_one() -> None:
    salt = bytes(range(32))
    person = Observer(salt).person("telegram", "42")
    assert person == Observer(salt).person("telegram", "42")  # one person, one pseudonym
    assert person != Observer(bytes(32)).person("telegram", "42")  # another database
    assert person != Observer(salt).person("discord", "42")
    # Hashing every small id without the salt never finds it.
    plain = {hashlib.sha256(f"telegram:{i}".encode()).hexdigest()[:16] for i in range(1000)}
    plain |= {hashlib.sha256(str(i).encode()).hexdigest()[:16] for i in range(1000)}
    assert person not in plain and len(person) == 16


# -- one line per reply, as delivered ---------------------------------------------------


async def test_an_answer_writes_one_json_reply_line_without_the_text(
    store: SqliteStore, make_engine: MakeEngine
) -> None:
    answer = "The capital of Peru is Lima, of course."
    s, metrics, clock = await observed(store, make_engine, FakeModel(answer, chunk=8))
    with json_lines() as out:
        await s.handle(msg("what is the capital of Peru?", user="ana"), RecordingSurface(clock))
    [line] = reply_lines(out)
    assert set(line) >= FIELDS | {"time", "level", "message"}
    assert line["level"] == "INFO" and line["platform"] == "test"
    assert line["outcome"] == "ok" and line["reply_id"] > line["prompt_id"] > 0
    assert line["tokens"] > 0 and line["latency_ms"] >= line["first_token_ms"] >= 0
    stored = await store.history(1)
    assert [m.id for m in stored] == [line["prompt_id"], line["reply_id"]]
    assert line["person"] == Observer(await store.log_salt()).person("test", "ana")
    text = out.getvalue()
    assert "Peru" not in text and "Lima" not in text and "ana" not in text
    assert 'tertulia_replies_total{outcome="ok",platform="test"} 1.0' in scraped(metrics)


async def test_every_outcome_is_the_one_the_person_got(
    store: SqliteStore, make_engine: MakeEngine
) -> None:
    model = FakeModel("fine")
    s, metrics, clock = await observed(store, make_engine, model)
    refused = RecordingSurface(clock)  # the answer, then its plain-text retry: both refused
    for _ in range(2):
        refused.fail("send", Rejected("message is too long"), when=lambda text: text == "unseen")
    gone = RecordingSurface(clock)
    gone.fail("send", ChatGone("bot was blocked by the user"))
    model.queue = ["fine", ModelError("overloaded"), ModelBlocked("unsafe"), "unseen", "cut"]
    with json_lines() as out:
        await s.handle(msg("one", user="u1"), RecordingSurface(clock))
        await s.handle(msg("two", user="u2"), RecordingSurface(clock))
        await s.handle(msg("three", user="u3"), RecordingSurface(clock))
        await s.handle(msg("four", user="u4"), refused)
        # Gone at the first words: the model's stream is closed, the turn interrupted.
        await s.handle(msg("five", user="u5"), gone)
        # A command asks no model: no reply line.
        await s.handle(msg("", user="u1", command=CommandCall("help")), RecordingSurface(clock))
    lines = reply_lines(out)
    outcomes = ["ok", "failed", "blocked", "undelivered", "interrupted"]
    assert [x["outcome"] for x in lines] == outcomes
    assert lines[1]["tokens"] == 0 and lines[1]["first_token_ms"] is None
    assert len({x["person"] for x in lines}) == 5
    # The line says what the store keeps.
    stored = {m.id: m.outcome for u in range(1, 6) for m in await store.history(u)}
    assert [stored[x["reply_id"]] for x in lines[:4]] == outcomes[:4]
    assert stored[lines[4]["prompt_id"]] == "interrupted"
    metrics_text = scraped(metrics)
    for outcome in outcomes:
        assert f'tertulia_replies_total{{outcome="{outcome}",platform="test"}} 1.0' in metrics_text
    assert 'tertulia_reply_latency_seconds_count{platform="test"} 4.0' in metrics_text


async def test_a_reply_cut_off_by_the_drain_is_reported_interrupted(
    store: SqliteStore, make_engine: MakeEngine
) -> None:
    asked = asyncio.Event()

    def slow(_turns: object) -> str:
        asked.set()
        return "a slow and long answer " * 20

    model = FakeModel(slow, chunk=4, delay=0.05)
    metrics = Metrics(lambda: 0)
    observer = Observer(await store.log_salt(), metrics)
    s = Session(make_engine(model), grace=0.0, observer=observer)
    surface = RecordingSurface(Clock())
    with json_lines() as out:
        task = asyncio.create_task(s.handle(msg("tell me", user="ana"), surface))
        await asked.wait()
        await s.drain()
        await asyncio.gather(task, return_exceptions=True)
    [line] = reply_lines(out)
    assert line["outcome"] == Outcome.INTERRUPTED and line["reply_id"] is None
    assert line["prompt_id"] > 0


def test_the_queue_depth_and_start_time_are_exposed() -> None:
    depth = [3]
    text = scraped(Metrics(lambda: depth[0]))
    assert "tertulia_queue_depth 3.0" in text
    assert "process_start_time_seconds" in text


# -- settings ------------------------------------------------------------------------------


def test_the_log_format_is_a_choice_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERTULIA_LOG_FORMAT", "JSON")
    assert load_settings(None).log_format == "json"
    monkeypatch.setenv("TERTULIA_LOG_FORMAT", "yaml")
    with pytest.raises(SettingsError, match="TERTULIA_LOG_FORMAT"):
        load_settings(None)


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_metrics_port_out_of_range_is_refused(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERTULIA_METRICS_PORT", port)
    with pytest.raises(SettingsError, match="TERTULIA_METRICS_PORT"):
        load_settings(None)


def test_each_platform_process_has_its_own_port() -> None:
    base = settings(TERTULIA_METRICS_PORT=9300)
    assert for_platform(base, "telegram").metrics_port == 9300
    assert for_platform(base, "discord").metrics_port == 9301
    assert for_platform(settings(), "discord").metrics_port is None  # off stays off
    with pytest.raises(SettingsError, match="TERTULIA_METRICS_PORT"):
        for_platform(settings(TERTULIA_METRICS_PORT=65535), "discord")
