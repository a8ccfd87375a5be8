"""Lasting memory through the engine on real SQLite: facts, summaries, the shared budget."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.learning import EXTRACT_PROMPT, SUMMARY_PROMPT
from bot.ports import ModelUnavailable
from bot.types import Done, IncomingMessage, Outcome, Turn
from storage.sqlite import SqliteStore
from tests.conftest import MakeEngine, collect, command, events, msg
from tests.engine.memory_model import MemoryModel


async def said(engine: Engine, message: IncomingMessage) -> str:
    """The reply, delivered as a session would report it, with background upkeep done."""
    got = await events(engine, message)
    done = got[-1]
    assert isinstance(done, Done)
    if done.ref is not None and done.ref.reply_id is not None and done.outcome is Outcome.OK:
        await engine.delivered(done.ref)
    await engine.learner.idle()
    return "".join(e for e in got if isinstance(e, str))


async def test_a_fact_told_in_one_conversation_reaches_a_later_one(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel()
    model.changes.append({"add": ["Tiene un perro que se llama Toby"]})
    engine = make_engine(model, facts_every=2)
    await said(engine, msg("Tengo un perro que se llama Toby"))
    assert model.extractions == []  # one turn: below the bound
    await said(engine, msg("Hace buen tiempo hoy"))
    assert len(model.extractions) == 1
    # Only what the person said goes to extraction, never the bot's own words.
    prompt = model.extractions[0]
    assert "Tengo un perro que se llama Toby" in prompt and "reply-" not in prompt
    await collect(engine, command("/new"))
    await said(engine, msg("¿Qué sabes de mí?"))
    system = model.chats[-1][0]
    assert "Tiene un perro que se llama Toby" in system
    # Another person's prompt holds none of it.
    await said(engine, msg("¿Qué sabes de mí?", user="u2"))
    assert "Toby" not in model.chats[-1][0]


async def test_facts_are_added_updated_ended_and_never_duplicated(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    model.changes.append({"add": ["Vive en Valencia", "Toca el violonchelo"]})
    await said(engine, msg("Vivo en Valencia y toco el violonchelo"))
    user = await store.find_user("test", "u1")
    assert user is not None
    valencia, cello = sorted(await store.facts(user.ids), key=lambda f: f.id)
    # The same fact in another wording is not kept twice; a changed one replaces the old;
    # an ended one stays, dated, but no longer holds; ids not shown to the model are ignored.
    model.changes.append(
        {
            "add": ["toca el VIOLONCHELO."],
            "update": [{"id": valencia.id, "text": "Vive en Sevilla"}, {"id": 999, "text": "x"}],
            "end": [cello.id, 12345],
        }
    )
    await said(engine, msg("Me mudé a Sevilla y dejé el violonchelo"))
    assert str(valencia.id) in model.extractions[-1] and "Vive en Valencia" in model.extractions[-1]
    current = await store.facts(user.ids)
    assert [f.text for f in current] == ["Vive en Sevilla"]
    every = {f.text: f for f in await store.facts(user.ids, current=False)}
    assert set(every) == {"Vive en Valencia", "Toca el violonchelo", "Vive en Sevilla"}
    assert every["Vive en Valencia"].valid_until is not None
    assert every["Toca el violonchelo"].valid_until is not None


async def test_a_persons_first_facts_filed_as_updates_are_kept(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    """Small models file a person's first facts under "update" with made-up ids: kept as
    new facts. Once the person has facts, an unknown id is ignored (the test above, and
    the private fact's in a group, below)."""
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    model.changes.append({"update": [{"id": 1, "text": "Se llama Ana"}], "end": [1]})
    await said(engine, msg("Me llamo Ana"))
    user = await store.find_user("test", "u1")
    assert user is not None
    assert [f.text for f in await store.facts(user.ids)] == ["Se llama Ana"]
    model.changes.append({"update": [{"id": 777, "text": "Vive en Lugo"}]})
    await said(engine, msg("Vivo en Lugo"))
    assert "Se llama Ana" in model.extractions[-1]
    assert [f.text for f in await store.facts(user.ids)] == ["Se llama Ana"]


async def test_a_failed_extraction_is_logged_never_shown_and_retried_later(
    make_engine: MakeEngine, store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    engine.learner.retry_after = 0.0
    model.changes += [ModelUnavailable("down"), {"add": ["Se llama Ana"]}]
    with caplog.at_level(logging.WARNING, logger="bot.learning"):
        reply = await said(engine, msg("Me llamo Ana"))
    assert reply == "reply-1" and "failed, will retry" in caplog.text
    user = await store.find_user("test", "u1")
    assert user is not None and await store.facts(user.ids) == []
    await said(engine, msg("Hola otra vez"))
    # The retry read the turn that failed before, as well as the new one.
    assert "Me llamo Ana" in model.extractions[-1] and "Hola otra vez" in model.extractions[-1]
    assert [f.text for f in await store.facts(user.ids)] == ["Se llama Ana"]


async def test_an_answer_that_is_not_json_changes_nothing(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    model.changes.append(ValueError("no JSON object in the answer"))
    assert await said(engine, msg("Me llamo Ana")) == "reply-1"
    user = await store.find_user("test", "u1")
    assert user is not None and await store.facts(user.ids) == []


async def test_a_reply_is_not_delayed_while_extraction_runs(make_engine: MakeEngine) -> None:
    model = MemoryModel()
    model.gate = asyncio.Event()  # extraction hangs until the test opens the gate
    engine = make_engine(model, facts_every=1)
    first = await events(engine, msg("Me llamo Ana"))
    done = first[-1]
    assert isinstance(done, Done) and done.ref is not None
    await engine.delivered(done.ref)
    assert engine.learner.busy == 1
    # The next message is answered in full while extraction is still waiting.
    assert await asyncio.wait_for(collect(engine, msg("¿Qué hora es?")), 5) == "reply-2"
    assert engine.learner.busy == 1 and model.extractions == []
    model.gate.set()
    await engine.learner.idle()
    assert len(model.extractions) == 1


async def test_a_long_conversation_is_summarised_and_the_summary_used(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel(context_tokens=4096)
    model.summary_texts += ["Ana planea un viaje a Lisboa en mayo."] * 10
    engine = make_engine(model, context_tokens=600, summaries=True)
    filler = "palabra " * 60  # ~80 tokens a turn
    await said(engine, msg("Quiero ir a Lisboa en mayo. " + filler))
    for i in range(8):
        await said(engine, msg(f"Mensaje {i}. " + filler))
    # Folded about every half window (150 tokens here): each fold starts from the last.
    assert 2 <= len(model.summaries) <= 5
    assert "Quiero ir a Lisboa en mayo" in model.summaries[0]
    assert model.summaries[1].startswith("Summary so far: Ana planea un viaje a Lisboa")
    await said(engine, msg("¿Adónde quería ir?"))
    system, turns = model.chats[-1]
    assert "Earlier in this conversation (your summary):" in system
    assert "Ana planea un viaje a Lisboa en mayo." in system
    # What the summary covers is not sent again as turns, and the whole fits the budget.
    assert not any("Quiero ir a Lisboa" in t.text for t in turns)
    total = model.estimate_tokens(system) + sum(model.estimate_tokens(t.text) for t in turns)
    assert total <= 600


async def test_without_a_summary_the_bot_still_answers_with_the_window(
    make_engine: MakeEngine,
) -> None:
    model = MemoryModel(context_tokens=4096)
    model.summary_texts += [ModelUnavailable("down")] * 20
    engine = make_engine(model, context_tokens=600, summaries=True)
    engine.learner.retry_after = 0.0
    for i in range(10):
        assert await said(engine, msg(f"Mensaje {i}. " + "palabra " * 60)) == f"reply-{i + 1}"
    assert model.summaries and "Earlier in this conversation" not in model.chats[-1][0]
    assert model.chats[-1][1][-1].text.startswith("Mensaje 9.")


async def test_a_group_sees_only_the_facts_said_in_it(make_engine: MakeEngine) -> None:
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    model.changes.append({"add": ["Tiene diabetes"]})
    await said(engine, msg("Tengo diabetes", chat="dm"))
    await collect(engine, command("/remember Le gusta el ajedrez", chat="g1", is_direct=False))
    await said(engine, msg("hola grupo", chat="g1", is_direct=False))
    group_system = model.chats[-1][0]
    assert "Le gusta el ajedrez" in group_system and "diabetes" not in group_system
    await said(engine, msg("hola", chat="dm"))
    assert "Tiene diabetes" in model.chats[-1][0] and "ajedrez" in model.chats[-1][0]


async def test_every_part_of_memory_keeps_to_its_share(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel(context_tokens=4096)
    engine = make_engine(model, context_tokens=800)
    for i in range(60):
        await collect(engine, command(f"/remember Dato número {i} sobre mi vida y mis cosas"))
    await said(engine, msg("hola"))
    system, _ = model.chats[-1]
    facts = system[system.index("What this person told you") :]
    # 15 % of what the persona and the message leave, heading included.
    assert 0 < model.estimate_tokens(facts) <= 800 * 0.15
    assert "Dato número 59" in facts and "Dato número 0 " not in facts  # the newest first


def _raw(db: Path) -> bytes:
    data = db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


async def test_forget_erases_facts_and_summaries_with_no_bytes_left(
    make_engine: MakeEngine, store: SqliteStore, db_path: Path
) -> None:
    model = MemoryModel(context_tokens=4096)
    model.changes.append({"add": ["Su contraseña favorita es zanahoria-azul-77"]})
    model.summary_texts.append("Resumen secreto berenjena-morada-42.")
    engine = make_engine(model, facts_every=1, context_tokens=600, summaries=True)
    await collect(engine, command("/remember Mi número secreto es calabaza-verde-13"))
    for i in range(9):
        await said(engine, msg(f"Mensaje {i} pepino-rojo-{i}. " + "palabra " * 60))
    await said(engine, msg("hola", user="other"))
    assert b"calabaza-verde-13" in _raw(db_path) and b"berenjena-morada-42" in _raw(db_path)
    reply = await collect(engine, command("/forget confirm"))
    assert "Done" in reply
    with sqlite3.connect(db_path) as raw:
        for table in ("facts", "conversations", "messages", "link_codes", "link_attempts"):
            (rows,) = raw.execute(
                f"SELECT count(*) FROM {table} WHERE user_id IN"
                " (SELECT id FROM users WHERE platform_user_id = 'u1')"
            ).fetchone()
            assert rows == 0, table
        assert (
            raw.execute("SELECT count(*) FROM users WHERE platform_user_id = 'u1'").fetchone()[0]
            == 0
        )
        (left,) = raw.execute("SELECT count(*) FROM facts").fetchone()
        assert left == 0
    raw_bytes = _raw(db_path)
    for secret in (b"calabaza-verde-13", b"zanahoria-azul-77", b"berenjena-morada-42", b"pepino"):
        assert secret not in raw_bytes, secret


async def test_a_private_fact_is_never_reworded_into_a_group(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    model.changes.append({"add": ["Tiene diabetes"]})
    await said(engine, msg("Tengo diabetes", chat="dm"))
    user = await store.find_user("test", "u1")
    assert user is not None
    (private,) = await store.facts(user.ids)
    # Learning from the group shows the model none of the private facts, so it cannot
    # "update" one into the group.
    model.changes.append({"update": [{"id": private.id, "text": "Tiene diabetes tipo 1"}]})
    await said(engine, msg("Hola a todos, hoy me noto cansado", chat="g", is_direct=False))
    assert "diabetes" not in model.extractions[-1]
    await said(engine, msg("¿Qué tal?", chat="g", is_direct=False))
    assert "diabetes" not in model.chats[-1][0]
    assert [f.text for f in await store.facts(user.ids)] == ["Tiene diabetes"]


async def test_turns_no_fact_can_be_read_from_are_passed_over_after_three_tries(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel()
    engine = make_engine(model, facts_every=1)
    engine.learner.retry_after = 0.0
    model.changes += [ValueError("not JSON")] * 3 + [{"add": ["Se llama Ana"]}]
    await said(engine, msg("Texto que el modelo nunca acepta"))
    await said(engine, msg("otra vez"))
    await said(engine, msg("y otra"))
    assert all("Texto que el modelo nunca acepta" in e for e in model.extractions)
    await said(engine, msg("Me llamo Ana"))
    assert "Texto que el modelo nunca acepta" not in model.extractions[-1]
    user = await store.find_user("test", "u1")
    assert user is not None and [f.text for f in await store.facts(user.ids)] == ["Se llama Ana"]


async def test_a_fold_never_takes_the_newest_exchange_which_retry_may_redo(
    make_engine: MakeEngine, db_path: Path
) -> None:
    class LongLast(MemoryModel):
        """Short answers, then one longer than half the fold window."""

        async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
            if system.startswith(SUMMARY_PROMPT[:40]) or system == EXTRACT_PROMPT:
                async for piece in super().stream(system, turns):
                    yield piece
                return
            self.chats.append((system, list(turns)))
            yield "larga " * 300 if turns[-1].text.startswith("Último") else "corta"

    model = LongLast(context_tokens=4096)
    engine = make_engine(model, context_tokens=600, summaries=True)
    # The length is looked at every FOLD_EVERY (4) exchanges: the 8th is the long one.
    for i in range(7):
        await said(engine, msg(f"Mensaje {i}. " + "palabra " * 60))
    await said(engine, msg("Último mensaje"))
    with sqlite3.connect(db_path) as raw:
        ((through, last),) = raw.execute(
            "SELECT c.summary_through, (SELECT max(id) FROM messages WHERE role = 'user')"
            " FROM conversations c"
        ).fetchall()
    assert model.summaries and through < last  # folded, but not the newest exchange
