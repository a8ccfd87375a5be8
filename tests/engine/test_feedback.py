"""Feedback through the engine: ratings, regenerated answers and consent, on real SQLite."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from bot.i18n import t
from bot.ports import ModelUnavailable
from bot.types import Done, Image, Outcome, Rated, TurnRef
from tests.conftest import MakeEngine, collect, command, events, msg
from tests.fakes.model import FakeModel


def rows(db: Path, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(db) as raw:
        return raw.execute(sql, params).fetchall()


def answers(db: Path) -> list[tuple[str, str, int | None, str | None]]:
    """Every stored model answer: its text, outcome, rating and reason, oldest first."""
    return rows(
        db,
        "SELECT text, outcome, rating, rating_reason FROM messages"
        " WHERE role = 'assistant' ORDER BY id",
    )


async def ask(engine: Any, text: str, **kw: Any) -> Done:
    got = await events(engine, msg(text, **kw))
    done = got[-1]
    assert isinstance(done, Done)
    return done


async def test_a_rating_is_stored_changed_given_a_reason_and_taken_back(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(FakeModel("Madrid"))
    done = await ask(engine, "¿Capital de España?")
    assert done.ref is not None and done.ref.reply_id is not None
    reply = done.ref.reply_id
    person = msg(language="es")
    assert await engine.rate(person, reply, 1) == (Rated.OK, t("rated_up", "es"))
    assert answers(db_path)[0][2:] == (1, None)
    assert await engine.rate(person, reply, -1) == (Rated.OK, t("rated_down", "es"))
    rated, said = await engine.rate(person, reply, -1, "  demasiado   corta ")
    assert (rated, said) == (Rated.OK, t("rated_down_reason", "es"))
    assert answers(db_path)[0][2:] == (-1, "demasiado corta")
    await engine.rate(person, reply, -1)  # pressed again: the reason stays
    assert answers(db_path)[0][2:] == (-1, "demasiado corta")
    await engine.rate(person, reply, 1)  # a thumbs up has no reason
    assert answers(db_path)[0][2:] == (1, None)
    assert (await engine.rate(person, reply, None))[0] is Rated.OK
    assert answers(db_path)[0][2:] == (None, None)


async def test_only_the_person_who_asked_may_rate_and_erased_answers_are_gone(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(FakeModel("hola"))
    done = await ask(engine, "hola", chat="g", is_direct=False)
    assert done.ref is not None and done.ref.reply_id is not None
    reply = done.ref.reply_id
    await collect(engine, msg("yo también", user="u2", chat="g", is_direct=False))
    # Someone else in the group, and someone who never talked to the bot.
    for user in ("u2", "stranger"):
        rated, said = await engine.rate(msg(user=user, chat="g"), reply, 1)
        assert (rated, said) == (Rated.NOT_YOURS, t("rate_not_yours", "en"))
    assert answers(db_path)[0][2] is None
    await collect(engine, command("/forget confirm", chat="g"))
    await collect(engine, msg("otra vez", chat="g", is_direct=False))
    assert await engine.rate(msg(chat="g"), reply, 1) == (Rated.GONE, t("rate_gone", "en"))


async def test_a_failed_answer_cannot_be_rated(make_engine: MakeEngine) -> None:
    model = FakeModel()
    model.queue.append(ModelUnavailable("down"))
    engine = make_engine(model)
    done = await ask(engine, "hola")
    assert done.outcome is Outcome.FAILED and done.ref is not None
    assert done.ref.reply_id is not None
    assert (await engine.rate(msg(), done.ref.reply_id, 1))[0] is Rated.GONE


async def test_good_and_bad_commands_rate_the_newest_answer_in_the_chat(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(FakeModel("respuesta"))
    assert await collect(engine, command("/good")) == t("rate_nothing", "en")
    await collect(engine, msg("uno"))
    await collect(engine, msg("dos"))
    assert await collect(engine, command("/bad no me sirve")) == t("rated_down_reason", "en")
    assert [a[2:] for a in answers(db_path)] == [(None, None), (-1, "no me sirve")]
    assert await collect(engine, command("/good")) == t("rated_up", "en")
    assert [a[2] for a in answers(db_path)] == [None, 1]


async def test_retry_answers_the_same_turn_in_the_same_context_and_supersedes_the_old(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model = FakeModel()
    model.queue += ["Hola, Ana.", "Es azul.", "Es azul celeste.", "Lo sé."]
    engine = make_engine(model)
    await collect(engine, msg("Me llamo Ana"))
    first = await ask(engine, "¿De qué color es el cielo?")
    assert first.ref is not None
    again = await events(engine, command(f"/retry {first.ref.reply_id}"))
    assert "".join(e for e in again if isinstance(e, str)) == "Es azul celeste."
    done = again[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.OK and done.ref is not None
    assert done.ref.prompt_id == first.ref.prompt_id
    assert done.ref.replaces == first.ref.reply_id and done.ref.reply_id != first.ref.reply_id
    # The model saw what it saw the first time: same system prompt, same turns.
    assert model.calls[2] == model.calls[1]
    assert [(a[0], a[1]) for a in answers(db_path)] == [
        ("Hola, Ana.", "ok"),
        ("Es azul.", "superseded"),
        ("Es azul celeste.", "ok"),
    ]
    # The replaced answer is never context again; the new one is.
    await collect(engine, msg("Gracias"))
    seen = [turn.text for turn in model.calls[3][1]]
    assert "Es azul celeste." in seen and "Es azul." not in seen


async def test_only_the_newest_answer_of_the_open_conversation_is_regenerated(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(FakeModel("vale"))
    old = await ask(engine, "uno")
    await collect(engine, msg("dos"))
    assert old.ref is not None
    said = await collect(engine, command(f"/retry {old.ref.reply_id}"))
    assert said == t("retry_not_latest", "en")
    other = await ask(engine, "tres", user="u2")
    assert other.ref is not None
    said = await collect(engine, command(f"/retry {other.ref.reply_id}"))
    assert said == t("rate_not_yours", "en")
    assert await collect(engine, command("/retry 999999")) == t("rate_gone", "en")
    await collect(engine, command("/new"))
    assert await collect(engine, command("/retry")) == t("retry_nothing", "en")


async def test_a_regenerated_answer_that_fails_leaves_the_old_one_standing(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model = FakeModel()
    model.queue += ["Primera.", ModelUnavailable("down"), "Siguiente."]
    engine = make_engine(model)
    first = await ask(engine, "hola")
    again = await events(engine, command("/retry"))
    done = again[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.FAILED and first.ref is not None
    assert rows(db_path, "SELECT outcome FROM messages WHERE id = ?", first.ref.prompt_id) == [
        ("ok",)
    ]
    assert [a[:2] for a in answers(db_path)] == [("Primera.", "ok"), ("", "failed")]
    await collect(engine, msg("¿y?"))
    assert "Primera." in [turn.text for turn in model.calls[2][1]]


async def test_a_regenerated_answer_never_delivered_gives_the_old_one_back(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model = FakeModel()
    model.queue += ["Primera.", "Segunda."]
    engine = make_engine(model)
    first = await ask(engine, "hola")
    again = await events(engine, command("/retry"))
    done = again[-1]
    assert isinstance(done, Done) and done.ref is not None
    assert [a[1] for a in answers(db_path)] == ["superseded", "ok"]
    await engine.undelivered(done.ref)  # the platform refused it
    assert [a[1] for a in answers(db_path)] == ["ok", "undelivered"]
    assert first.ref is not None
    assert rows(db_path, "SELECT outcome FROM messages WHERE id = ?", first.ref.prompt_id) == [
        ("ok",)
    ]


async def test_retry_after_a_failure_answers_the_turn_that_failed(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model = FakeModel()
    model.queue += [ModelUnavailable("down"), "Ahora sí."]
    engine = make_engine(model)
    failed = await ask(engine, "hola")
    assert failed.outcome is Outcome.FAILED
    again = await events(engine, command("/retry"))
    done = again[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.OK and done.ref is not None
    assert done.ref.replaces is None
    assert [a[:2] for a in answers(db_path)] == [("", "failed"), ("Ahora sí.", "ok")]
    assert failed.ref is not None
    assert rows(db_path, "SELECT outcome FROM messages WHERE id = ?", failed.ref.prompt_id) == [
        ("ok",)
    ]


async def test_an_answer_about_an_image_is_not_regenerated(make_engine: MakeEngine) -> None:
    engine = make_engine(FakeModel("Un gato."))
    await collect(engine, msg("¿Qué es?", images=(Image(b"\xff\xd8"),)))
    assert await collect(engine, command("/retry")) == t("retry_image", "en")


async def test_consent_is_off_until_the_person_says_so_and_only_in_private(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine()
    off = t("consent_status", "es", state=t("consent_state_off", "es"))
    assert await collect(engine, command("/consent", language="es")) == off
    assert await collect(engine, command("/consent on", language="es")) == t("consent_on", "es")
    assert rows(db_path, "SELECT tuning_consent FROM users") == [(1,)]
    on = t("consent_status", "en", state=t("consent_state_on", "en"))
    assert await collect(engine, command("/consent")) == on
    refused = await collect(engine, command("/consent off", chat="g", is_direct=False))
    assert refused == t("private_only", "en", name="consent")
    assert await collect(engine, command("/consent off")) == t("consent_off", "en")
    assert rows(db_path, "SELECT tuning_consent FROM users") == [(0,)]


async def test_the_refs_of_a_regenerated_answer_are_scoped_to_their_person(
    make_engine: MakeEngine, db_path: Path
) -> None:
    # A forged ref naming someone else's turn records nothing against it.
    engine = make_engine(FakeModel("x"))
    theirs = await ask(engine, "hola", user="u2")
    mine = await ask(engine, "hola")
    assert theirs.ref is not None and mine.ref is not None
    forged = TurnRef(mine.ref.user_id, mine.ref.conversation_id, theirs.ref.prompt_id, None, 1)
    got = await engine.store.complete_again(
        forged, reply="robado", outcome=Outcome.OK, tokens=1, first_token_ms=1, latency_ms=1
    )
    assert got == forged
    assert rows(db_path, "SELECT count(*) FROM messages WHERE text = 'robado'") == [(0,)]


async def test_export_carries_ratings_reasons_and_consent(make_engine: MakeEngine) -> None:
    engine = make_engine(FakeModel("Madrid."))
    done = await ask(engine, "¿Capital?")
    assert done.ref is not None and done.ref.reply_id is not None
    await engine.rate(msg(), done.ref.reply_id, -1, "incompleta")
    await collect(engine, command("/consent on"))
    got = await events(engine, command("/export"))
    final = got[-1]
    assert isinstance(final, Done) and final.attachment is not None
    data = json.loads(final.attachment.data)
    assert data["tuning_consent"]["given"] is True and data["tuning_consent"]["changed"]
    answers_ = [m for c in data["conversations"] for m in c["messages"] if m["role"] == "assistant"]
    assert answers_ == [
        {**answers_[0], "text": "Madrid.", "rating": -1, "rating_reason": "incompleta"}
    ]


async def test_an_answer_is_regenerated_as_the_persona_that_wrote_it(
    make_engine: MakeEngine, db_path: Path
) -> None:
    model = FakeModel("Respuesta.")
    engine = make_engine(model)
    await collect(engine, msg("Explícame la fotosíntesis"))
    await collect(engine, command("/persona tutor"))
    await collect(engine, command("/retry"))
    first, again = model.calls
    assert again[0] == first[0]  # the same system prompt: the assistant's, not the tutor's
    await collect(engine, msg("¿Y la respiración?"))
    assert model.calls[-1][0] != first[0]  # new messages are answered by the tutor
    personas = rows(db_path, "SELECT persona FROM messages WHERE role = 'assistant' ORDER BY id")
    assert personas == [("assistant",), ("assistant",), ("tutor",)]


async def link(engine: Any, one: dict[str, str], other: dict[str, str]) -> None:
    answer = await collect(engine, command("/link", **one))
    code = re.findall(r"/link ([A-Z0-9]{8})", answer)[0]
    assert await collect(engine, command(f"/link {code}", **other)) == t("link_linked", "en")


async def test_linking_keeps_consent_only_if_both_sides_gave_it_and_unlink_keeps_the_choice(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine()
    tg = {"platform": "telegram", "user": "111", "chat": "111"}
    dc = {"platform": "discord", "user": "999", "chat": "dm-999"}
    on = t("consent_status", "en", state=t("consent_state_on", "en"))
    off = t("consent_status", "en", state=t("consent_state_off", "en"))
    await collect(engine, command("/consent on", **tg))
    await link(engine, tg, dc)  # Discord never agreed: the person's consent is off
    assert await collect(engine, command("/consent", **tg)) == off
    await collect(engine, command("/consent on", **dc))
    assert await collect(engine, command("/consent", **tg)) == on
    await collect(engine, command("/consent off", **tg))
    # Separated, each side keeps the person's last choice: no old "on" comes back.
    await collect(engine, command("/unlink", **tg))
    assert await collect(engine, command("/consent", **tg)) == off
    assert await collect(engine, command("/consent", **dc)) == off
    assert rows(db_path, "SELECT sum(tuning_consent) FROM users") == [(0,)]


async def test_recall_pairs_a_regenerated_turn_with_the_answer_that_stands(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel()
    model.queue += ["Respuesta vieja.", "Respuesta nueva."]  # neither says "Lugo"
    engine = make_engine(model)
    await collect(engine, msg("¿Qué sabes de Lugo?"))
    await collect(engine, command("/retry"))
    await collect(engine, command("/new"))
    await engine.store.index_pending()
    await collect(engine, msg("Háblame otra vez de Lugo"))
    system = model.calls[-1][0]
    # The question is found by its words and comes with the answer that stands.
    assert "¿Qué sabes de Lugo?" in system
    assert "Respuesta nueva." in system and "Respuesta vieja." not in system


async def test_may_redo_answers_without_storing_anything(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(FakeModel("vale"))
    old = await ask(engine, "uno", chat="g", is_direct=False)
    new = await ask(engine, "dos", chat="g", is_direct=False)
    assert old.ref is not None and new.ref is not None and new.ref.reply_id is not None
    assert old.ref.reply_id is not None
    before = rows(db_path, "SELECT count(*) FROM messages")
    assert await engine.may_redo(msg(chat="g"), new.ref.reply_id) == (Rated.OK, "")
    assert await engine.may_redo(msg(chat="g"), old.ref.reply_id) == (
        Rated.NOT_LATEST,
        t("retry_not_latest", "en"),
    )
    for user in ("u2", "stranger"):
        got = await engine.may_redo(msg(user=user, chat="g"), new.ref.reply_id)
        assert got == (Rated.NOT_YOURS, t("rate_not_yours", "en"))
    assert (await engine.may_redo(msg(chat="other"), new.ref.reply_id))[0] is Rated.NOT_LATEST
    assert (await engine.may_redo(msg(chat="g"), 999999))[0] is Rated.GONE
    assert rows(db_path, "SELECT count(*) FROM messages") == before
    assert rows(db_path, "SELECT count(*) FROM users") == [(1,)]  # no row for a stranger
    await collect(engine, command("/new", chat="g", is_direct=False))
    assert (await engine.may_redo(msg(chat="g"), new.ref.reply_id))[0] is Rated.NOT_LATEST


async def test_a_reason_sent_after_a_thumbs_down_button_goes_to_the_answer_pressed(
    make_engine: MakeEngine, db_path: Path
) -> None:
    engine = make_engine(FakeModel("respuesta"))
    older = await ask(engine, "uno")
    await ask(engine, "dos")
    assert older.ref is not None and older.ref.reply_id is not None
    await engine.rate(msg(), older.ref.reply_id, -1)  # the 👎 button on the older answer
    assert await collect(engine, command("/bad demasiado vaga")) == t("rated_down_reason", "en")
    assert [a[2:] for a in answers(db_path)] == [(-1, "demasiado vaga"), (None, None)]
    # With no 👎 waiting for its reason, /bad rates the newest answer.
    assert await collect(engine, command("/bad otra")) == t("rated_down_reason", "en")
    assert [a[2:] for a in answers(db_path)] == [(-1, "demasiado vaga"), (-1, "otra")]
