"""`tertulia telegram` killed mid-answer: after a restart, one note with ↻ per person, once.

Real processes (SIGKILL, then restarts) against the fake Bot API, the fake OpenAI server
(one answer hangs, one streams slowly: the kill lands mid-generation) and a SQLite file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.adapters.test_telegram_process import NOISE, start_adapter, stop_adapter
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import kill

STORY = " ".join(f"word{i}" for i in range(80))  # 10-character chunks 0.4 s apart: ~25 s
NOTE_EN = "⚠️ My answer to this was cut off by a restart. Press ↻ to ask again."
NOTE_ES = "⚠️ Un reinicio cortó mi respuesta a esto. Pulsa ↻ para preguntar de nuevo."


def chat_turns(db: Path) -> dict[str, tuple[int, str]]:
    """Each user chat turn's text -> (id, outcome), read from the SQLite file itself."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT text, id, outcome FROM messages WHERE role = 'user' AND kind = 'chat'"
        ).fetchall()
    return {text: (id_, outcome) for text, id_, outcome in rows}


async def test_a_killed_telegram_process_tells_each_person_once(tmp_path: Path) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapter.log"
    async with (
        FakeTelegramAPI() as api,
        FakeOpenAIServer(STORY, chunk=10, chunk_delay=0.4) as model,
    ):
        proc = await start_adapter(api, model, db, log, TERTULIA_EDIT_INTERVAL="0.2")
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            api.push_text(43, 43, "/lang es")
            await api.wait_for(lambda: api.texts(43), timeout=15)
            # Ana's answer never starts (the model hangs); Bea's is half streamed.
            model.hangs = [120.0]
            api.push_text(42, 42, "a question left hanging")
            await api.wait_for(lambda: len(model.requests) == 1, timeout=15)
            api.push_text(43, 43, "tell me a long story", language_code="es")
            await api.wait_for(lambda: len(api.texts(43)) == 2, timeout=15)
            partial = api.texts(43)[1]
            await kill(proc)  # SIGKILL: no drain, no finally, no goodbye
        finally:
            await kill(proc)
        assert partial and len(partial) < len(STORY)
        turns = chat_turns(db)
        assert [o for _, o in turns.values()] == ["pending", "pending"]
        hanging, story = turns["a question left hanging"][0], turns["tell me a long story"][0]

        model.reply, model.chunk_delay = "A fresh answer.", 0.0
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: len(api.texts(42)) == 1 and len(api.texts(43)) == 3, 30)
        finally:
            code = await stop_adapter(proc, log)
        assert code == 0, log.read_text()
        (note_42,) = api.bot_messages(42)
        note_43 = api.bot_messages(43)[2]
        assert (note_42.text, note_43.text) == (NOTE_EN, NOTE_ES)  # each in their language
        for note, turn in ((note_42, hanging), (note_43, story)):
            assert note.reply_markup == {
                "inline_keyboard": [[{"text": "↻", "callback_data": f"fb:redo:{turn}"}]]
            }
        assert api.texts(43)[1] == partial  # the half answer is left as it was
        assert {o for _, o in chat_turns(db).values()} == {"interrupted"}

        # A second restart tells no one again; ↻ then really answers the turn.
        polls = len(api.calls_of("getUpdates"))
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: len(api.calls_of("getUpdates")) > polls, timeout=30)
            await asyncio.sleep(1.0)  # the sweep runs as polling starts: room to misbehave
            assert (len(api.texts(42)), len(api.texts(43))) == (1, 3)
            query = api.press(42, 42, note_42.message_id, f"fb:redo:{hanging}")
            await api.wait_for(lambda: query in api.answered and len(api.texts(42)) == 2, 15)
        finally:
            code = await stop_adapter(proc, log)
        assert code == 0, log.read_text()
    assert api.texts(42)[1] == "A fresh answer."
    assert api.answered[query].get("text") in (None, "")  # no error toast
    turns = chat_turns(db)
    assert turns["a question left hanging"][1] == "ok"  # answered: context from now on
    assert turns["tell me a long story"][1] == "interrupted"
    logged = log.read_text()
    assert "2 telegram turns were interrupted by a restart" in logged
    assert "a question left hanging" not in logged and "long story" not in logged
    assert not [n for n in NOISE if n in logged], logged


async def test_a_chat_that_refuses_the_note_is_not_retried(tmp_path: Path) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapter.log"
    async with FakeTelegramAPI() as api, FakeOpenAIServer("Hi.") as model:
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            model.hangs = [120.0, 120.0]
            api.push_text(42, 42, "first question")
            api.push_text(44, 44, "second question")
            await api.wait_for(lambda: len(model.requests) == 2, timeout=15)
            await kill(proc)
        finally:
            await kill(proc)

        # Person 44 blocked the bot meanwhile: Telegram answers 403 to anything sent there.
        blocked = "Forbidden: bot was blocked by the user"
        api.fail_for("sendMessage", 600, 403, blocked, match=lambda p: p.get("chat_id") == 44)
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: api.texts(42) == [NOTE_EN], timeout=30)
            await api.wait_for(lambda: "the chat is gone" in log.read_text(), timeout=15)
            api.push_text(45, 45, "still there?")  # start-up went on: others are answered
            await api.wait_for(lambda: api.texts(45) == ["Hi."], timeout=15)
        finally:
            code = await stop_adapter(proc, log)
        assert code == 0, log.read_text()
    assert len(api.calls_of("sendMessage", 44)) == 1  # tried once, never again
    assert chat_turns(db)["second question"][1] == "interrupted"  # settled all the same
    logged = log.read_text()
    assert not [n for n in NOISE if n in logged], logged
