"""Every registry command, through the engine, in English and Spanish."""

from __future__ import annotations

from typing import Any

import pytest

from bot.commands import parse_command
from bot.types import CommandCall, IncomingMessage
from storage.sqlite import SqliteStore
from tests import conftest
from tests.conftest import MakeEngine, collect
from tests.fakes.model import FakeModel


def msg(text: str, user: str = "u1", lang: str = "en", **kw: Any) -> IncomingMessage:
    """A message, or a command when it starts with "/" (as Telegram converts them)."""
    command = parse_command(text) if text.startswith("/") else None
    return conftest.msg(text, user, language=lang, command=command, **kw)


def test_parse_command_handles_bot_suffix_and_paths() -> None:
    assert parse_command("/persona@tertulia_bot tutor") == CommandCall("persona", "tutor")
    assert parse_command("/HELP") == CommandCall("help", "")
    assert parse_command("/etc/passwd is a file") is None
    assert parse_command("hola") is None


async def test_start_and_help_list_every_public_command(make_engine: MakeEngine) -> None:
    engine = make_engine()
    start_es = await collect(engine, msg("/start", lang="es", display_name="Ana"))
    assert start_es.startswith("¡Hola Ana!")
    help_en = await collect(engine, msg("/help"))
    for name in ("help", "new", "persona", "model", "forget", "lang"):
        assert f"/{name}" in help_en
    assert "/stats" not in help_en


async def test_new_starts_a_fresh_conversation_and_keeps_the_old(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = FakeModel("r")
    engine = make_engine(model)
    await collect(engine, msg("remember 7"))
    assert "fresh conversation" in await collect(engine, msg("/new"))
    await collect(engine, msg("what number?"))
    _, turns = model.calls[-1]
    assert [t.text for t in turns] == ["what number?"]
    user = await store.find_user("test", "u1")
    assert user is not None
    assert "remember 7" in [m.text for m in await store.history(user.id)]


async def test_persona_lists_switches_and_rejects_unknown(make_engine: MakeEngine) -> None:
    model = FakeModel("r")
    engine = make_engine(model)
    listing = await collect(engine, msg("/persona"))
    for name in ("assistant", "tutor", "translator", "coder"):
        assert name in listing
    assert "tutor" in await collect(engine, msg("/persona tutor"))
    await collect(engine, msg("explain recursion"))
    system, _ = model.calls[-1]
    assert "patient tutor" in system
    unknown = await collect(engine, msg("/persona pirata", lang="es"))
    assert "pirata" in unknown and "No hay" in unknown


async def test_model_shows_backend_and_model(make_engine: MakeEngine) -> None:
    engine = make_engine(FakeModel(model="tiny-7"))
    answer = await collect(engine, msg("/model", lang="es"))
    assert "fake" in answer and "tiny-7" in answer and "Modelo" in answer


async def test_forget_asks_first_then_erases_only_this_user(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    engine = make_engine(FakeModel("r"))
    await collect(engine, msg("secret of u1"))
    await collect(engine, msg("secret of u2", user="u2"))
    ask = await collect(engine, msg("/forget"))
    assert "/forget confirm" in ask
    assert await store.find_user("test", "u1") is not None
    done = await collect(engine, msg("/forget confirm"))
    assert "erased" in done
    assert await store.find_user("test", "u1") is None
    u2 = await store.find_user("test", "u2")
    assert u2 is not None
    assert [m.text for m in await store.history(u2.id)] == ["secret of u2", "r"]


async def test_lang_shows_sets_and_rejects(make_engine: MakeEngine) -> None:
    engine = make_engine()
    assert "English" in await collect(engine, msg("/lang"))
    assert "español" in await collect(engine, msg("/lang es"))
    assert (await collect(engine, msg("/help"))).startswith("Comandos")
    assert "/lang es o /lang en" in await collect(engine, msg("/lang fr"))


async def test_admin_only_stats(make_engine: MakeEngine) -> None:
    engine = make_engine(admins=frozenset({"test:boss"}))
    assert "administrator" in await collect(engine, msg("/stats"))
    stats = await collect(engine, msg("/stats", user="boss"))
    assert "Users: 2" in stats
    assert "/stats" in await collect(engine, msg("/help", user="boss"))


async def test_unknown_command_is_answered(make_engine: MakeEngine) -> None:
    engine = make_engine()
    assert "/help" in await collect(engine, msg("/dance"))


@pytest.mark.parametrize(
    ("text", "spanish"),
    [
        ("/start", "¡Hola"),
        ("/help", "Comandos:"),
        ("/new", "Empezamos una conversación nueva"),
        ("/persona", "Personajes (actual: assistant)"),
        ("/persona tutor", "Personaje cambiado a tutor"),
        ("/model", "Motor: fake"),
        ("/forget", "Esto borra todo"),
        ("/forget confirm", "Hecho: borré"),
        ("/lang", "Idioma: español"),
        ("/stats", "Solo un administrador"),
        ("/bailar", "No conozco el comando /bailar"),
    ],
)
async def test_every_command_answers_in_spanish(
    make_engine: MakeEngine, text: str, spanish: str
) -> None:
    engine = make_engine()
    assert (await collect(engine, msg(text, lang="es"))).startswith(spanish)
