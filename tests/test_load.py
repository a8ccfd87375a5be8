"""Load, CI-sized: 200 people writing at once through `tertulia telegram` and `discord` processes.

The adapters are real processes (python-telegram-bot against the fake Bot API, discord.py
against the fake gateway, the openai SDK against a fake model taking 0.2 s per answer,
SQLite in a temp file). Every answer
names the person and the message it answers: nothing may be lost, shown twice, shown to
someone else, or missing from the database. bench/bench_load.py runs the same at 1,000
people and 10 messages each, and prints the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.types import ConversationKey, Outcome, TurnKind
from storage.sqlite import SqliteStore
from tests.fakes.load import (
    Load,
    Tally,
    answer,
    audit_platform,
    audit_store,
    model_reply,
    question,
    run,
)
from tests.fakes.load_platforms import TelegramLoad
from tests.fakes.telegram_api import BotMessage, FakeTelegramAPI


def assert_clean(tally: Tally) -> None:
    assert tally.clean, tally
    assert tally.stored == tally.expected, tally
    assert tally.errors == [], tally.errors
    assert len(tally.latencies) == tally.expected


async def test_one_adapter_answers_200_people_at_once_each_exactly_once(tmp_path: Path) -> None:
    load = Load(people=200, messages=2, latency=0.2, timeout=45)
    outcome = await run(load, tmp_path)
    (tally,) = outcome.tallies
    assert_clean(tally)
    # One model call per message, plus the readiness probe: nothing asked twice.
    assert outcome.model_calls == 400 + 1


async def test_telegram_and_discord_sharing_a_database_answer_their_own_people(
    tmp_path: Path,
) -> None:
    # Each person's messages all at once: their line in the engine keeps them in order.
    platforms = ("telegram", "discord")
    load = Load(people=100, messages=2, latency=0.2, platforms=platforms, burst=True, timeout=45)
    outcome = await run(load, tmp_path)
    for tally in outcome.tallies:
        assert_clean(tally)
    assert outcome.model_calls == 400 + 2


def shown(api: FakeTelegramAPI, chat: int, text: str) -> None:
    api.messages.setdefault(chat, []).append(BotMessage(chat, 1, text, []))


def test_the_platform_audit_counts_every_kind_of_mistake() -> None:
    # The clean runs above prove something only if the audit sees each kind of failure.
    api = FakeTelegramAPI()
    shown(api, 1, answer(1, 1))
    shown(api, 1, answer(1, 1))  # the same answer twice
    shown(api, 1, answer(2, 1))  # person 2's answer in person 1's chat
    shown(api, 1, "Algo salió mal.")  # a notice answering nothing
    shown(api, 2, answer(2, 2)[:20])  # cut off: never shown whole
    shown(api, 3, answer(3, 2))
    shown(api, 3, answer(3, 1))  # the first message answered after the second
    tally = Tally("telegram", expected=6)
    audit_platform(TelegramLoad(api).shown(), [1, 2, 3], Load(people=3, messages=2), tally)
    counts = (tally.delivered, tally.lost, tally.duplicated, tally.misrouted, tally.other)
    assert counts == (3, 3, 1, 1, 1)
    assert tally.out_of_order == 1
    assert not tally.clean


async def test_the_store_audit_counts_only_the_right_reply_to_each_message(
    tmp_path: Path,
) -> None:
    db = tmp_path / "audit.db"
    async with SqliteStore(db) as store:
        for n, reply in ((1, answer(1, 1)), (2, answer(1, 3)), (3, None)):
            got = await store.ingest(
                ConversationKey("telegram", "1", "1"),
                display_name="Ana",
                platform_message_id=str(n),
                text=question(1, n),
                kind=TurnKind.CHAT,
            )
            assert got is not None
            if reply is not None:  # the second gets another message's answer, the third none
                await store.complete(
                    got.ref,
                    reply=reply,
                    outcome=Outcome.OK,
                    tokens=1,
                    first_token_ms=None,
                    latency_ms=0,
                )
    tally = Tally("telegram", expected=3)
    audit_store(db, {0: tally})
    assert tally.stored == 1


def test_the_fake_model_answers_the_newest_message_it_is_given() -> None:
    history: list[dict[str, Any]] = [
        {"role": "system", "content": "Eres útil."},
        {"role": "user", "content": question(7, 1)},
        {"role": "assistant", "content": answer(7, 1)},
        {"role": "user", "content": [{"type": "text", "text": question(7, 2)}]},
    ]
    assert model_reply(history) == answer(7, 2)
    assert model_reply([{"role": "user", "content": "hola"}]) == "Sin etiqueta."
