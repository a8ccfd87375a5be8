"""Access and limits through the engine: allow-lists, blocks, rate and budget, on real SQLite."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.runtime import access, personas
from adapters.telegram.convert import menus
from bot.access import DAY, Access
from bot.commands import REGISTRY
from bot.engine import Engine
from bot.i18n import t
from config.settings import SettingsError, load_settings
from storage.sqlite import SqliteStore
from storage.sqlite.access import STANDING_SQL
from tests.conftest import MakeEngine, collect, command, events, msg
from tests.fakes.model import FakeModel

ADMINS = frozenset({"test:boss"})


class Clock:
    """Real time moved forward by hand: stored turns keep their real timestamps."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


def rows(db: Path, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(db) as raw:
        return raw.execute(sql, params).fetchall()


def said(db: Path, user: str) -> list[tuple[str, str]]:
    """Every stored turn of one sender: (role, kind) oldest first."""
    return rows(
        db,
        "SELECT m.role, m.kind FROM messages m JOIN users u ON u.id = m.user_id"
        " WHERE u.platform_user_id = ? ORDER BY m.id",
        user,
    )


async def test_allow_lists_let_in_listed_people_chats_and_servers_only(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model = FakeModel("hola")
    rules = Access(
        allowed_users=frozenset({"test:ann"}),
        allowed_chats=frozenset({"test:club"}),
        allowed_guilds=frozenset({"77"}),
    )
    engine = make_engine(model, access=rules)
    assert await collect(engine, msg("hi", user="ann")) == "hola"
    assert await collect(engine, msg("hi", user="bob", chat="club", is_direct=False)) == "hola"
    assert await collect(engine, msg("hi", user="cy", chat="c9", guild_id="77")) == "hola"
    assert len(model.calls) == 3
    # Anyone else: one short notice in their language, then silence; nothing stored.
    stranger = msg("hola", user="eve", language="es")
    assert await collect(engine, stranger) == t("access_refused", "es")
    assert await events(engine, msg("hola?", user="eve")) == []
    assert await events(engine, command("/start", user="eve")) == []
    assert len(model.calls) == 3
    assert said(db_path, "eve") == []
    # Nothing set: everyone.
    assert await collect(make_engine(model), msg("hi", user="eve")) == "hola"


async def test_a_blocked_person_is_told_once_a_day_then_silence_until_unblocked(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model, clock = FakeModel("hola"), Clock()
    engine = make_engine(model, admins=ADMINS, clock=clock)
    assert await collect(engine, msg("hi", user="bob")) == "hola"
    boss = {"user": "boss"}
    assert await collect(engine, command("/block bob", **boss)) == t(
        "block_done", "en", who="test:bob"
    )
    assert await collect(engine, command("/block test:bob", **boss)) == t(
        "block_already", "en", who="test:bob"
    )
    assert await collect(engine, msg("hi again", user="bob")) == t("access_refused", "en")
    for text in ("anyone?", "/usage"):
        assert await events(engine, msg(text, user="bob")) == []
    clock.shift = DAY + 1  # a day later: told once more
    assert await collect(engine, msg("hello?", user="bob")) == t("access_refused", "en")
    assert await events(engine, msg("hello??", user="bob")) == []
    assert len(model.calls) == 1
    assert said(db_path, "bob") == [("user", "chat"), ("assistant", "chat")]
    # Only admins block; admins are never blocked.
    assert await collect(engine, command("/unblock bob", user="ann")) == t(
        "admin_only", "en", name="unblock"
    )
    assert await collect(engine, command("/block boss", **boss)) == t(
        "block_admin", "en", who="test:boss"
    )
    assert await collect(engine, msg("still here", **boss)) == "hola"
    assert await collect(engine, command("/unblock bob", **boss)) == t(
        "unblock_done", "en", who="test:bob"
    )
    assert await collect(engine, command("/unblock bob", **boss)) == t(
        "unblock_none", "en", who="test:bob"
    )
    assert await collect(engine, msg("back", user="bob")) == "hola"
    assert await collect(engine, command("/block", **boss)) == t("block_usage", "en", name="block")


async def test_the_rate_limit_allows_a_burst_keeps_the_message_and_never_answers_it_later(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model, clock = FakeModel("ok"), Clock()
    # 6 a minute, 2 at once: 2 questions per 20 s window.
    engine = make_engine(model, access=Access(rate_per_minute=6, burst=2), clock=clock)
    for n in range(2):
        assert await collect(engine, msg(f"q{n}", message_id=str(n))) == "ok"
    told = await collect(engine, msg("q2", message_id="2", language="es"))
    wait = int(told.split("dentro de ")[1].split(" s")[0])
    assert 18 <= wait <= 20
    assert told == t("rate_limited", "es", wait=f"{wait} s")
    assert await events(engine, msg("q3", message_id="3")) == []  # told once per window
    # Commands still work while limited, and a redelivered message is not answered.
    assert "Rate limit" in await collect(engine, command("/usage"))
    assert await events(engine, msg("q2", message_id="2")) == []
    assert len(model.calls) == 2
    clock.shift = 21
    assert await collect(engine, msg("q4", message_id="4")) == "ok"
    assert len(model.calls) == 3
    # Every message is stored; the refused ones as refused input, never answered.
    kept = rows(
        db_path,
        "SELECT text, kind, (SELECT count(*) FROM messages r WHERE r.reply_to = m.id)"
        " FROM messages m WHERE role = 'user' AND kind != 'command' ORDER BY id",
    )
    assert kept == [
        ("q0", "chat", 1),
        ("q1", "chat", 1),
        ("q2", "rejected", 0),
        ("q3", "rejected", 0),
        ("q4", "chat", 1),
    ]
    assert [str(turn.text) for turn in model.calls[-1][1]] == ["q0", "ok", "q1", "ok", "q4"]


async def test_retry_asks_the_model_too_and_is_refused_over_the_limit(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel("ok")
    engine = make_engine(model, access=Access(rate_per_minute=6, burst=2))
    for n in range(2):
        assert await collect(engine, msg(f"q{n}")) == "ok"
    assert (await collect(engine, command("/retry"))).startswith("You're writing faster")
    assert len(model.calls) == 2


async def test_admins_and_the_console_are_never_limited(make_engine: MakeEngine) -> None:
    model = FakeModel("ok")
    rules = Access(rate_per_minute=1, burst=1, daily_tokens=1, allowed_users=frozenset({"x:y"}))
    engine = make_engine(model, admins=ADMINS, access=rules)
    for n in range(3):
        assert await collect(engine, msg(f"q{n}", user="boss")) == "ok"
        assert await collect(engine, msg(f"q{n}", platform="console")) == "ok"
    assert t("usage_exempt", "en") in await collect(engine, command("/usage", user="boss"))


async def test_the_daily_budget_stops_a_person_until_midnight(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model, clock = FakeModel("word " * 40), Clock()
    engine = make_engine(model, access=Access(daily_tokens=30), clock=clock)
    assert await collect(engine, msg("tell me a long story")) == "word " * 40
    told = await collect(engine, msg("and another"))
    assert told.startswith("You've used today's 30 tokens.") and "00:00 UTC, in " in told
    assert await events(engine, msg("please")) == []  # reminded at most once an hour
    usage = await collect(engine, command("/usage"))
    ((tokens,),) = rows(db_path, "SELECT tokens FROM usage")
    assert tokens > 30
    assert f"1 answers, {tokens} tokens of 30 a day" in usage
    assert t("usage_spent", "en") in usage
    assert len(model.calls) == 1
    clock.shift = DAY  # the next UTC day
    assert await collect(engine, msg("good morning")) == "word " * 40
    assert len(model.calls) == 2


async def test_usage_shows_today_the_limits_and_the_reset(make_engine: MakeEngine) -> None:
    rules = Access(rate_per_minute=10, burst=5, daily_tokens=1000)
    engine = make_engine(FakeModel("Claro que sí"), access=rules)
    await collect(engine, msg("¿Me ayudas?"))
    usage = await collect(engine, command("/usage", language="es"))
    lines = usage.splitlines()
    assert lines[0].startswith("Hoy (UTC): 1 respuestas, ")
    assert lines[0].endswith(" tokens de 1000 al día.")
    assert lines[1] == t("usage_rate", "es", rate=10, burst=5)
    assert lines[2].startswith("La cuenta vuelve a empezar a las 00:00 UTC, dentro de ")
    fresh = await collect(make_engine(), command("/usage", user="new"))
    assert fresh.startswith("Today (UTC): 0 answers, 0 tokens (no daily limit).")


async def test_two_processes_share_blocks_and_counters(store: SqliteStore, db_path: Path) -> None:
    rules = Access(rate_per_minute=6, burst=2)
    model = FakeModel("ok")
    one = Engine(store, model, personas=personas(), admins=ADMINS, access=rules)
    async with SqliteStore(db_path) as other_store:
        two = Engine(other_store, model, personas=personas(), admins=ADMINS, access=rules)
        assert await collect(one, msg("a", message_id="1")) == "ok"
        assert await collect(two, msg("b", message_id="2")) == "ok"
        told = await collect(one, msg("c", message_id="3"))
        assert told.startswith("You're writing faster than I can answer.")
        assert len(model.calls) == 2
        assert await events(two, msg("d", message_id="4")) == []  # told once, by either
        await collect(one, command("/block eve", user="boss"))
        assert await collect(two, msg("hi", user="eve")) == t("access_refused", "en")
        assert await events(one, msg("hi", user="eve")) == []
        await collect(two, command("/unblock eve", user="boss"))
        assert await collect(one, msg("hi", user="eve")) == "ok"


async def test_the_standing_read_uses_keys_and_indexes_only(store: SqliteStore) -> None:
    with sqlite3.connect(store.path) as raw:
        found = raw.execute(
            "EXPLAIN QUERY PLAN " + STANDING_SQL, ("test", "u1", "2026-01-01", 4)
        ).fetchall()
    steps = " | ".join(str(r[3]) for r in found)
    assert "SCAN" not in steps.replace("SCAN CONSTANT ROW", ""), steps
    assert "messages_asked" in steps, steps


def test_settings_become_the_engines_rules_and_admin_commands_leave_telegrams_menu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert access(load_settings(None)) == Access(rate_per_minute=10, burst=5)
    for name, value in {
        "TERTULIA_ALLOWED_USERS": " telegram:1, discord:2 ,",
        "TERTULIA_ALLOWED_CHATS": "telegram:-100",
        "TERTULIA_ALLOWED_GUILDS": "77",
        "TERTULIA_RATE_PER_MINUTE": "6",
        "TERTULIA_RATE_BURST": "3",
        "TERTULIA_DAILY_TOKENS": "5000",
    }.items():
        monkeypatch.setenv(name, value)
    users, chats, guilds = (
        frozenset({"telegram:1", "discord:2"}),
        frozenset({"telegram:-100"}),
        frozenset({"77"}),
    )
    assert access(load_settings(None)) == Access(users, chats, guilds, 6, 3, 5000)
    monkeypatch.setenv("TERTULIA_RATE_BURST", "0")
    with pytest.raises(SettingsError, match="^TERTULIA_RATE_BURST: "):
        load_settings(None)
    for admin, shown in ((False, False), (True, True)):
        for _lang, menu in menus(list(REGISTRY.values()), admin=admin):
            names = {name for name, _ in menu}
            assert "usage" in names
            assert ("block" in names, "unblock" in names) == (shown, shown)
