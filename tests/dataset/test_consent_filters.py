"""Consent decides who is read at all; the filters narrow what is read, in the query."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.dataset import ExportOptions
from bot.types import LinkOutcome
from storage.sqlite import SqliteStore
from tests.dataset.conftest import Person, export, preview


def said(shown: list[dict[str, Any]]) -> list[str]:
    """The first user turn of each example (openai-chat)."""
    return [e["messages"][1]["content"] for e in shown]


async def test_only_people_who_consented_are_exported_and_withdrawing_takes_them_out(
    store: SqliteStore, db_path: Path
) -> None:
    yes = Person(store, "yes", chat="c-yes")
    await yes.say("I agreed to share this conversation for tuning.", "Thank you for helping.")
    await yes.consent()
    never = Person(store, "never", chat="c-never")
    await never.say("I never agreed to anything like that at all.", "Then it stays private.")
    later = Person(store, "later", chat="c-later")
    await later.say("I agreed once but then changed my mind later.", "That is your right.")
    await later.consent()
    await later.consent(False)

    assert said(preview(db_path, "openai-chat")) == [
        "I agreed to share this conversation for tuning."
    ]
    # No option can include people who did not consent.
    assert "consent" not in {f.name for f in dataclasses.fields(ExportOptions)}


async def test_consent_is_the_persons_on_their_root_identity_shared_by_linked_ones(
    store: SqliteStore, db_path: Path
) -> None:
    root = Person(store, "root", "telegram", "c-root")
    await root.say("Written on Telegram by the person who consented.", "Noted on Telegram.")
    other = Person(store, "4242", "discord", "c-other")
    await other.say("Written on Discord by the same person, linked.", "Noted on Discord.")
    code = hashlib.sha256(b"CODE").hexdigest()
    await store.issue_link(root.id, code, time.time() + 600)
    linked = await store.redeem_link(other.id, code, max_attempts=5, per_seconds=600)
    assert linked is LinkOutcome.LINKED
    await other.consent()  # from the linked identity: stored on the person's root row

    assert sorted(said(preview(db_path, "openai-chat"))) == [
        "Written on Discord by the same person, linked.",
        "Written on Telegram by the person who consented.",
    ]
    await root.consent(False)
    assert preview(db_path, "openai-chat") == []
    # A consent flag on a linked identity's own row is not the person's: it counts for nothing.
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE users SET tuning_consent = 1 WHERE id = ?", (other.id,))
    assert preview(db_path, "openai-chat") == []


async def test_an_erased_person_is_gone_from_every_export_file(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    gone = Person(store, "gone", chat="c-gone")
    await gone.say("My secret plans for the weekend are these ones.", "They sound lovely.")
    await gone.consent()
    stays = Person(store, "stays", chat="c-stays")
    await stays.say("Nothing secret here, just a question on maps.", "Maps are great tools.")
    await stays.consent()
    await store.forget(gone.id)

    export(db_path, tmp_path / "out", "openai-chat", validation=0.5)

    written = "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    assert "weekend" not in written and "lovely" not in written
    assert "maps" in written


@pytest.fixture
async def spread(store: SqliteStore) -> dict[str, Person]:
    """Four consenting people: platforms, personas and languages apart."""
    people = {
        "tg-es": Person(store, "1", "telegram", "a"),
        "tg-en-tutor": Person(store, "2", "telegram", "b"),
        "dc-en": Person(store, "3", "discord", "c"),
        "dc-es-gone-persona": Person(store, "4", "discord", "d"),
    }
    lines = {
        "tg-es": ("¿Qué tiempo hace hoy en la sierra de Madrid?", "Hace frío y está nublado."),
        "tg-en-tutor": (
            "Can you explain what a derivative is, please?",
            "It is the rate of change.",
        ),
        "dc-en": ("What is the best way to learn to play chess?", "Play often and review games."),
        "dc-es-gone-persona": (
            "¿Me recomiendas un libro de historia de España?",
            "Prueba con uno de Elliott.",
        ),
    }
    for name, person in people.items():
        await person.say(*lines[name])
        await person.consent()
    await store.set_persona(people["tg-en-tutor"].id, "tutor")
    await store.set_persona(people["dc-es-gone-persona"].id, "pirate")  # no longer shipped
    return people


async def test_platform_persona_and_language_filters(
    spread: dict[str, Person], db_path: Path
) -> None:
    def who(**filters: Any) -> list[str]:
        return said(preview(db_path, "openai-chat", **filters))

    assert len(who()) == 4
    assert who(platform="discord") == [
        "What is the best way to learn to play chess?",
        "¿Me recomiendas un libro de historia de España?",
    ]
    assert who(persona="tutor") == ["Can you explain what a derivative is, please?"]
    # No persona chosen, or one no longer shipped: the default, as the engine answers.
    assert len(who(persona="assistant")) == 3
    assert who(language="en", platform="telegram") == [
        "Can you explain what a derivative is, please?"
    ]
    assert who(platform="console") == []


async def test_since_keeps_only_turns_written_from_that_day(
    store: SqliteStore, db_path: Path
) -> None:
    ann = Person(store)
    await ann.say("An old question from last year about gardening.", "An old answer on roses.")
    await ann.say("A new question from today about cooking rice.", "Rinse it, then simmer it.")
    await ann.consent()
    last_year = time.time() - 365 * 86400
    with sqlite3.connect(db_path) as raw:
        raw.execute(
            "UPDATE messages SET created_at = ? WHERE id IN"
            " (SELECT id FROM messages ORDER BY id LIMIT 2)",
            (last_year,),
        )
    (example,) = preview(db_path, "openai-chat", since=time.time() - 86400)
    assert [m["content"] for m in example["messages"][1:]] == [
        "A new question from today about cooking rice.",
        "Rinse it, then simmer it.",
    ]
    assert len(preview(db_path, "openai-chat", since=last_year - 1)[0]["messages"]) == 5
