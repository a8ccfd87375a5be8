"""`tertulia chat` killed mid-answer: the next start says so once, and /retry answers it.

A real console process on pipes, the fake OpenAI server hanging so the kill lands while
the model is asked, and the SQLite file it leaves behind.
"""

from __future__ import annotations

import asyncio
from asyncio.subprocess import PIPE
from pathlib import Path

from bot.i18n import t
from tests.adapters.test_console_process import NOISE, chat_env, piped
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import kill, start_cli
from tests.test_crash_recovery_telegram import chat_turns


async def test_a_killed_console_says_so_once_and_retry_answers(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with FakeOpenAIServer("A fresh answer.") as model:
        env = chat_env(model, db)  # LANG=es_ES: the note comes in Spanish
        model.hangs = [120.0]
        proc = await start_cli("chat", env, stdin=PIPE, stdout=PIPE, stderr=PIPE)
        try:
            assert proc.stdin is not None
            proc.stdin.write(b"a question left hanging\n")
            await proc.stdin.drain()
            for _ in range(600):  # the model has been asked: the turn is in flight
                if model.requests:
                    break
                await asyncio.sleep(0.05)
            assert model.requests
            await kill(proc)  # SIGKILL mid-answer
        finally:
            await kill(proc)
        assert chat_turns(db) == {"a question left hanging": (1, "pending")}

        records, err = await piped(env, b"/retry\n")
        assert err == t("recovery_note_command", "es") + "\n"  # on stderr: not a record
        assert records == ["A fresh answer.\n", ""]
        assert chat_turns(db)["a question left hanging"][1] == "ok"

        # A second start has nothing to say about it.
        records, err = await piped(env, b"")
        assert (records, err) == ([""], "")
    assert not [n for n in NOISE if n in err]
