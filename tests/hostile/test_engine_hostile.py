"""Hostile text through a real Engine on real SQLite, the model echoing hostile text back."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from adapters.runtime import personas
from bot.engine import Engine
from bot.i18n import t
from bot.types import Done, Outcome, ReplyEvent, Turn
from storage.sqlite import SqliteStore
from tests.conftest import events, msg, readable
from tests.fakes.model import FakeModel
from tests.hostile.strategies import hostile

ENGINE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


async def converse(
    text: str, answer: str, chunk: int, limit: int, lang: str | None
) -> tuple[list[ReplyEvent], FakeModel, list[tuple[str, str]]]:
    """One message through a fresh engine and store; the events, the model, the rows stored.

    A fresh store per example: hypothesis runs examples synchronously, so a function-scoped
    fixture (tests/conftest.py's make_engine) would be shared by all of them.
    """
    model = FakeModel(lambda _turns: answer, chunk=chunk)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tertulia.db"
        async with SqliteStore(path) as store:
            engine = Engine(store, model, personas=personas(), max_input_chars=limit)
            try:
                got = await events(engine, msg(text, language=lang, message_id="m1"))
            finally:
                await engine.close()
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT role, text FROM messages ORDER BY id").fetchall()
    return got, model, rows


def check_answer(text: str, answer: str, chunk: int, limit: int, lang: str | None) -> None:
    got, model, rows = asyncio.run(converse(text, answer, chunk, limit, lang))
    said = text.strip()
    event("blank" if not said else "too long" if len(said) > limit else "answered")
    if not said:
        assert got == [] and rows == [] and model.calls == []  # nothing to answer
        return
    done = [e for e in got if isinstance(e, Done)]
    assert len(done) == 1 and got[-1] is done[0]
    assert rows[0] == ("user", said)  # stored exactly, NULs, bidi and all
    if len(said) > limit:
        assert model.calls == []  # refused before the model
        expected = t("too_long", (lang or "en")[:2], length=len(said), limit=limit)
        assert readable(got) == expected
        assert [r for r in rows if r[0] == "assistant"] in ([], [("assistant", expected)])
        return
    assert len(model.calls) == 1
    turns: Sequence[Turn] = model.calls[0][1]
    assert turns[-1].text == said  # the model got the text as sent
    assert done[0].outcome is Outcome.OK
    assert readable(got) == answer
    assert rows[1:] == [("assistant", answer)]


@ENGINE
@given(
    text=hostile(big_chance=6),
    answer=hostile(big_chance=10).filter(lambda s: bool(s)),
    chunk=st.integers(1, 5000),
    limit=st.sampled_from([16000, 700]),
    lang=st.sampled_from([None, "es", "en-GB", "es-AR"]),
)
@example(text="\x00", answer="\x00\u202e", chunk=1, limit=16000, lang=None)
@example(text=" \u2028x\x1c ", answer="\ufeff", chunk=1, limit=16000, lang=None)
@example(text="y" * 100_000, answer="x", chunk=1, limit=16000, lang="es")
def test_hostile_text_is_answered_stored_and_echoed_exactly(
    text: str, answer: str, chunk: int, limit: int, lang: str | None
) -> None:
    check_answer(text, answer, chunk, limit, lang)
