"""The playground in AppTest: the real engine and store, the real openai client, a fake server."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from adapters.dashboard.host import KEY
from tests.dashboard.conftest import MakeApp
from tests.fakes.openai_server import FakeOpenAIServer


def _echo(messages: list[dict[str, Any]]) -> str:
    return f"Echo: {messages[-1]['content']}"


def _playground_rows(db: Path) -> list[tuple[str, str, str, int | None]]:
    with sqlite3.connect(db) as raw:
        return raw.execute(
            "SELECT m.role, m.text, m.outcome, m.rating FROM messages m"
            " JOIN users u ON u.id = m.user_id WHERE u.platform = ? AND u.platform_user_id = ?"
            " ORDER BY m.id",
            (KEY.platform, KEY.user_id),
        ).fetchall()


async def test_a_message_streams_through_the_engine_and_is_stored_as_its_own(
    filled: Path, make_app: MakeApp
) -> None:
    async with FakeOpenAIServer(_echo, chunk=4) as llm:
        at = make_app(filled, OPENAI_BASE_URL=llm.base_url)
        await asyncio.to_thread(at.run)
        at.switch_page("views/playground.py")
        await asyncio.to_thread(at.run)
        at.chat_input(key="playground_input").set_value("hola playground")
        await asyncio.to_thread(at.run)
        assert not at.exception
        assert [m.value for m in at.markdown][-2:] == ["hola playground", "Echo: hola playground"]
        assert llm.requests[-1]["stream"] is True  # streamed from the server, piece by piece
        assert _playground_rows(filled) == [
            ("user", "hola playground", "ok", None),
            ("assistant", "Echo: hola playground", "ok", None),
        ]
        # The playground rates its own answers: 👍 is stored on the reply.
        at.feedback[0].set_value(1)
        await asyncio.to_thread(at.run)
        assert _playground_rows(filled)[-1][3] == 1
        # Commands go through the engine too: /export's file is offered as a download.
        at.chat_input(key="playground_input").set_value("/export")
        await asyncio.to_thread(at.run)
        (download,) = at.download_button
        assert download.label.endswith(".json")
        # And /new starts an empty conversation.
        at.button(key="new_conversation").click()
        await asyncio.to_thread(at.run)
        assert not at.exception
        assert "hola playground" not in [m.value for m in at.markdown]


async def test_the_people_it_does_not_touch(filled: Path, make_app: MakeApp) -> None:
    with sqlite3.connect(filled) as raw:
        others = raw.execute("SELECT * FROM messages ORDER BY id").fetchall()
    async with FakeOpenAIServer(_echo) as llm:
        # An embedder configured for the bot: the playground still embeds nobody's backlog
        # (nor sends anyone's text to the embedding API).
        at = make_app(
            filled,
            OPENAI_BASE_URL=llm.base_url,
            TERTULIA_EMBEDDER="openai",
            OPENAI_EMBEDDING_MODEL="fake-embed",
        )
        await asyncio.to_thread(at.run)
        at.switch_page("views/playground.py")
        await asyncio.to_thread(at.run)
        at.chat_input(key="playground_input").set_value("something")
        await asyncio.to_thread(at.run)
        assert not at.exception
    with sqlite3.connect(filled) as raw:
        after = raw.execute("SELECT * FROM messages ORDER BY id").fetchall()
    assert after[: len(others)] == others
    assert len(after) == len(others) + 2
    assert all("input" not in body for body in llm.requests)  # no embeddings asked for
    with sqlite3.connect(filled) as raw:
        assert raw.execute("SELECT count(*) FROM vectors").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM embedded").fetchone() == (0,)
