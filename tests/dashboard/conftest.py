"""The dashboard's fixtures: a database filled through the real engine and store, the app in AppTest."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard is not installed: run `make dashboard`")

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from adapters.runtime import personas  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.ports import ModelError  # noqa: E402
from bot.types import ConversationKey, Done, IncomingMessage, Turn  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402
from tests.fakes.model import FakeModel  # noqa: E402
from tests.processes import OWN_PREFIXES  # noqa: E402

APP = Path(__file__).resolve().parents[2] / "adapters" / "dashboard" / "app.py"
MakeApp = Callable[..., AppTest]

# (platform, account, name, what they say); a "!" message makes the model fail.
PEOPLE = (
    ("telegram", "ana1", "Ana", ("Hola, ¿me ayudas con una paella?", "¿Y cuánto arroz?")),
    ("discord", "bob7", "Bob", ("What is a monad?", "!explain it again")),
)
# Ratings by (account, exchange number): 👍 for Ana's first answer, 👎 with a reason for her second.
RATINGS = {("ana1", 0): (1, None), ("ana1", 1): (-1, "too short")}
CONSENTING = ("ana1",)  # to tuning: only her conversation may go into a dataset


def answer(turns: Sequence[Turn]) -> str | Exception:
    said = turns[-1].text
    return ModelError("scripted failure") if said.startswith("!") else f"Reply to: {said}"


async def fill(path: Path) -> None:
    """Two people on two platforms, four exchanges: two rated, one failed; Ana consents."""
    async with SqliteStore(path) as store:
        engine = Engine(store, FakeModel(answer), personas=personas())
        for platform, account, name, texts in PEOPLE:
            key = ConversationKey(platform, account, "c1")
            for n, text in enumerate(texts):
                msg = IncomingMessage(key, text, display_name=name, message_id=f"{account}{n}")
                done = [e async for e in engine.reply(msg) if isinstance(e, Done)][-1]
                if (account, n) in RATINGS and done.ref and done.ref.reply_id:
                    user = await store.find_user(platform, account)
                    assert user is not None
                    rating, reason = RATINGS[account, n]
                    await store.rate(user.ids, done.ref.reply_id, rating, reason)
            if account in CONSENTING:
                user = await store.find_user(platform, account)
                assert user is not None
                await store.set_consent(user.id, True)


@pytest.fixture
async def filled(tmp_path: Path) -> Path:
    path = tmp_path / "tertulia.db"
    await fill(path)
    return path


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeApp]:
    """`make_app(db, **settings)`: the dashboard in AppTest, reading only the given settings."""

    def make(db: Path, **env: str) -> AppTest:
        for name in list(os.environ):
            if name.startswith(OWN_PREFIXES):
                monkeypatch.delenv(name)
        settings = {
            "TERTULIA_DB": str(db),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # nothing listens: no page asks it
            "OPENAI_API_KEY": "x",
            "TERTULIA_LEARN": "off",
            **env,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        # The app reads the settings file named after `--`, as `tertulia dashboard` starts it.
        monkeypatch.setattr(sys, "argv", [str(APP), "--env-file", "/nonexistent"])
        return AppTest.from_file(APP, default_timeout=60)

    yield make
    # Caches live as long as the process: each test's playground closes with the test.
    st.cache_resource.clear()
    st.cache_data.clear()
