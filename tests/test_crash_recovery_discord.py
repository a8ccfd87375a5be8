"""`tertulia discord` killed mid-answer: after a restart, one note with ↻ per person, once.

Real processes (SIGKILL, then restarts) against the fake Discord gateway and REST API,
the fake OpenAI server (one answer hangs, one streams slowly) and a SQLite file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.adapters.discord_harness import answered
from tests.adapters.test_discord_process import process_env, reply_to
from tests.fakes.discord_api import TOKEN, FakeDiscord, FakeMessage
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import kill, start_cli, stop
from tests.test_crash_recovery_telegram import STORY, chat_turns

NOTE = "⚠️ My answer to this was cut off by a restart. Press ↻ to ask again."


def notes(fake: FakeDiscord) -> list[FakeMessage]:
    return [m for m in fake.bot_messages() if m.content == NOTE]


async def test_a_killed_discord_process_tells_each_person_once(tmp_path: Path) -> None:
    log = tmp_path / "adapter.log"
    async with FakeDiscord() as fake, FakeOpenAIServer(STORY, 10, chunk_delay=0.4) as llm:
        env = process_env(fake, tmp_path, llm.base_url)
        db = Path(env["TERTULIA_DB"])
        channel = fake.channel_ids[0]
        proc = await start_cli("discord", env, log=log)
        try:
            await fake.wait_for(lambda: fake.identifies and fake.commands, timeout=20)
            llm.hangs = [120.0]  # Ana's answer never starts
            asked_dm = await fake.dm(7, "a question left hanging")
            await fake.wait_for(lambda: len(llm.requests) == 1, timeout=15)
            # Bea's, in a server channel, is half streamed when the process dies.
            asked = await fake.guild_message(8, channel, "<@1001> a long story", mention=True)
            partial = await reply_to(fake, asked)
            await fake.wait_for(lambda: partial.content, timeout=15)
            await kill(proc)  # SIGKILL: no drain, no finally, no goodbye
        finally:
            await kill(proc)
        cut = partial.content
        assert cut and len(cut) < len(STORY)
        turns = chat_turns(db)
        assert [o for _, o in turns.values()] == ["pending", "pending"]
        hanging, story = turns["a question left hanging"][0], turns["a long story"][0]

        llm.reply, llm.chunk_delay = "A fresh answer.", 0.0
        proc = await start_cli("discord", env, log=log)
        try:
            await fake.wait_for(lambda: len(notes(fake)) == 2, timeout=30)
        finally:
            assert await stop(proc, 20, log) == 0, log.read_text()
        by_channel = {m.channel_id: m for m in notes(fake)}
        in_dm, in_guild = by_channel[5007], by_channel[channel]
        assert in_dm.reply_to == asked_dm and in_guild.reply_to == asked  # quoting the question
        assert [b["custom_id"] for b in in_dm.buttons()] == [f"tertulia:fb:redo:{hanging}:7"]
        assert [b["custom_id"] for b in in_guild.buttons()] == [f"tertulia:fb:redo:{story}:8"]
        assert partial.content == cut  # the half answer is left as it was
        assert {o for _, o in chat_turns(db).values()} == {"interrupted"}

        # A second restart tells no one again; ↻ then really answers the turn.
        identified = fake.identifies
        proc = await start_cli("discord", env, log=log)
        try:
            await fake.wait_for(lambda: fake.identifies > identified, timeout=20)
            await asyncio.sleep(1.5)  # the sweep runs once the client is ready
            assert len(notes(fake)) == 2
            redo = await fake.press(in_dm.id, f"tertulia:fb:redo:{hanging}:7", user_id=7)
            answer = await fake.wait_for(answered(fake, redo), timeout=15)
            await fake.wait_for(lambda: answer.content == "A fresh answer.", timeout=15)
        finally:
            assert await stop(proc, 20, log) == 0, log.read_text()
    turns = chat_turns(db)
    assert turns["a question left hanging"][1] == "ok"
    assert turns["a long story"][1] == "interrupted"
    logged = log.read_text()
    assert "2 discord turns were interrupted by a restart" in logged
    assert TOKEN not in logged and "long story" not in logged
