"""/link and /unlink across a Telegram and a Discord process sharing one database."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from tests.adapters.conftest import run_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import kill, start_cli, terminate

TG_USER, DC_USER = 1001, 2002


async def test_memory_follows_a_person_from_telegram_to_discord_and_back(tmp_path: Path) -> None:
    systems: list[str] = []

    def answer(messages: list[dict[str, Any]]) -> str:
        systems.append(str(messages[0]["content"]))
        return f"ok {len(systems)}"

    async with (
        FakeTelegramAPI() as tg,
        FakeDiscord() as dc,
        FakeOpenAIServer(answer) as llm,
    ):
        env = {
            **run_env(tg, dc, llm, tmp_path / "shared.db"),
            "TERTULIA_FIRST_WAIT": "0",
            "TERTULIA_LEARN": "off",  # the fake model answers "ok N", never facts
        }
        proc = await start_cli("run", env, stderr=asyncio.subprocess.PIPE)

        async def telegram(text: str) -> str:
            before = len(tg.texts(TG_USER))
            tg.push_text(TG_USER, TG_USER, text)
            await tg.wait_for(lambda: len(tg.texts(TG_USER)) > before, timeout=30)
            return tg.texts(TG_USER)[-1]

        async def discord(text: str) -> str:
            before = len(dc.bot_messages())
            await dc.dm(DC_USER, text)
            await dc.wait_for(lambda: len(dc.bot_messages()) > before, timeout=30)
            await asyncio.sleep(0.3)  # the final edit of a streamed reply
            return dc.bot_messages()[-1].content

        steps: list[str] = []
        try:
            await tg.wait_for(lambda: tg.calls_of("getUpdates"), timeout=40)
            await dc.wait_for(lambda: dc.identifies and dc.commands, timeout=40)
            # Someone else on Telegram, whose words must never be exported with the person's.
            tg.push_text(3003, 3003, "Soy otra persona")
            await tg.wait_for(lambda: tg.texts(3003), timeout=30)
            assert "#" in await telegram("/remember Trabajo de enfermera en Lugo")
            await telegram("/lang es")
            code = re.findall(r"/link ([A-Z0-9]{8})", await telegram("/link"))[0]
            steps.append(await discord(f"/link {code}"))
            steps.append(await discord("¿Dónde trabajo?"))
            steps.append(systems[-1])
            # While linked, /export from either side is the person's whole memory.
            await telegram("/export")
            await tg.wait_for(lambda: tg.documents.get(TG_USER), timeout=30)
            await discord("/export")
            await dc.wait_for(lambda: [m for m in dc.bot_messages() if m.files], timeout=30)
            steps.append(await discord("/unlink"))
            steps.append(await discord("¿Dónde trabajo ahora?"))
            steps.append(systems[-1])
            steps.append(await telegram("/memory"))
            stderr = await terminate(proc, 30)
        finally:
            await kill(proc)
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    linked, _, system, unlinked, _, alone, memory = steps
    assert "Vinculado" in linked
    assert "Trabajo de enfermera en Lugo" in system
    assert "Reply in Spanish" in system  # the language followed too
    assert "separa" in unlinked.lower()
    assert "enfermera" not in alone
    assert "enfermera" in memory
    (document,) = tg.documents[TG_USER]
    (attached,) = [m for m in dc.bot_messages() if m.files]
    for data in (document.data, attached.files[0].data):
        exported = json.loads(data)
        assert {i["platform"] for i in exported["identities"]} == {"telegram", "discord"}
        assert [f["text"] for f in exported["facts"]] == ["Trabajo de enfermera en Lugo"]
        texts = [m["text"] for c in exported["conversations"] for m in c["messages"]]
        assert "¿Dónde trabajo?" in texts and "/remember Trabajo de enfermera en Lugo" in texts
        assert not any("otra persona" in t for t in texts)
