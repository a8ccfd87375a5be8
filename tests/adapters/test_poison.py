"""Poison input from the platform: an update or gateway event the library cannot read.

Before: one unreadable Telegram update failed its whole getUpdates batch; PTB asked for
the same batch again at once, forever (~440 polls and ~880 CRITICAL tracebacks a second,
each quoting every message of the batch), and nobody was answered. One unreadable Discord
event stopped discord.py's connection loop, and with it the client.
Now the update or event is skipped, logged once without anyone's text, and the rest served.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord import client as discord_client
from adapters.telegram.http import readable_updates
from tests.adapters.discord_harness import adapter, echo, reply_to, until
from tests.adapters.telegram_harness import ANA, BEN, StartBot, bot_starter
from tests.adapters.test_telegram_process import adapter_env
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.engine import ScriptedEngine
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import kill, start_cli, terminate

DIARY = "my secret diary, do not log me"
HELLO = "hello there"
FORMAT = logging.Formatter()


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def quoting_users(caplog: pytest.LogCaptureFixture, *texts: str) -> list[str]:
    """Lines at INFO or above (tracebacks included) quoting any of `texts`."""
    lines = [FORMAT.format(r) for r in caplog.records if r.levelno >= logging.INFO]
    return [line for line in lines if any(t in line for t in texts)]


# -- Telegram ------------------------------------------------------------------------


@pytest.mark.parametrize("position", ["first", "last"])
async def test_an_unreadable_update_is_skipped_once_and_its_batch_answered(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture, position: str
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_bot(ScriptedEngine("Hi!"))
    api = bot.api
    # Pushed without awaiting in between: one getUpdates answers all three.
    if position == "last":
        api.push_text(ANA, ANA, HELLO)
        api.push_text(BEN, BEN, HELLO)
    bad = api.push_unreadable(ANA, ANA, DIARY)
    if position == "first":
        api.push_text(ANA, ANA, HELLO)
        api.push_text(BEN, BEN, HELLO)
    assert await bot.answered(ANA) == ["Hi!"]
    assert await bot.answered(BEN) == ["Hi!"]
    polls = len(api.calls_of("getUpdates"))
    await asyncio.sleep(0.5)  # no tight loop on the same batch
    assert len(api.calls_of("getUpdates")) <= polls + 1

    [warning] = warnings_of(caplog)
    assert warning.name == "adapters.telegram.http"
    assert f"update {bad['update_id']}" in warning.getMessage()
    assert "TypeError" in warning.getMessage() and not warning.exc_info
    assert DIARY not in caplog.text  # at any level: PTB never saw it
    assert quoting_users(caplog, HELLO) == []
    # The bad update was confirmed: the next poll asks past it.
    assert api.calls_of("getUpdates")[-1]["offset"] > bad["update_id"]
    assert [m.text for m in bot.engine.messages] == [HELLO, HELLO]

    api.push_text(ANA, ANA, "still there?")  # and the bot keeps serving
    assert await bot.answered(ANA, 2) == ["Hi!", "Hi!"]


async def test_a_batch_of_unreadable_updates_only_is_confirmed(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot(ScriptedEngine("Hi!"))
    first = bot.api.push_unreadable(ANA, ANA, DIARY)
    second = bot.api.push_unreadable(BEN, BEN, DIARY)
    await bot.settled()
    await bot.api.wait_for(
        lambda: bot.api.calls_of("getUpdates")[-1]["offset"] > second["update_id"]
    )
    logged = [r.getMessage() for r in warnings_of(caplog)]
    assert len(logged) == 2
    assert f"update {first['update_id']}" in logged[0]
    assert f"update {second['update_id']}" in logged[1]
    assert bot.engine.messages == [] and DIARY not in caplog.text


def test_readable_updates_leaves_good_batches_and_other_answers_alone() -> None:
    message = {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}}
    good = {"update_id": 7, "message": message}
    body = json.dumps({"ok": True, "result": [good]}).encode()
    assert readable_updates(body) is body  # untouched: not even re-encoded
    for other in (b"<html>502</html>", b'{"ok": false, "error_code": 401}', b'{"result": 5}'):
        assert readable_updates(other) is other  # PTB reports these itself
    no_id = {"message": "not a message"}
    bad = {"update_id": 8, "message": {**message, "chat": 5}}
    batch = json.dumps({"ok": True, "result": [good, no_id, bad]}).encode()
    fixed = json.loads(readable_updates(batch))
    assert fixed["result"] == [good, {"update_id": 8}]  # no id: left out, cannot be confirmed


async def test_the_process_logs_one_line_for_an_unreadable_update_and_keeps_serving(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapter.log"
    async with FakeTelegramAPI() as api, FakeOpenAIServer("Hola") as model:
        env = adapter_env(api, model, db)
        del env["TERTULIA_LOG_LEVEL"]  # the default level, as an operator runs it
        with log.open("wb") as err:
            proc = await start_cli("telegram", env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            bad = api.push_unreadable(ANA, ANA, DIARY)
            api.push_text(BEN, BEN, HELLO)
            await api.wait_for(lambda: api.texts(BEN) == ["Hola"], timeout=15)
            api.push_text(ANA, ANA, HELLO)
            await api.wait_for(lambda: api.texts(ANA) == ["Hola"], timeout=15)
            await terminate(proc, 15)
        finally:
            await kill(proc)
    lines = log.read_text().splitlines()
    assert proc.returncode == 0, lines
    assert len(lines) == 1, lines
    assert "WARNING" in lines[0] and f"update {bad['update_id']}" in lines[0]
    assert DIARY not in lines[0] and HELLO not in lines[0]


# -- Discord -------------------------------------------------------------------------

MALFORMED = {"id": "not-a-number", "username": "x"}  # discord.py: int(author["id"]) fails


async def test_an_unreadable_gateway_event_is_skipped_and_the_client_keeps_running(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path) as bot:
        await fake.dm(77, DIARY, author=MALFORMED)
        await fake.wait_for(lambda: fake.identifies == 2)  # a fresh session, not a replay
        answer = await fake.wait_for(reply_to(fake, await fake.dm(78, HELLO)))
        assert answer.content == f"re: {HELLO}"
        await until(lambda: bot.session.busy == 0)
        assert not bot.is_closed()
    assert [m.text for m in engine.messages] == [HELLO]
    # discord.py's own at start-up: no PyNaCl, so no voice.
    [warning] = [r for r in warnings_of(caplog) if "voice" not in r.getMessage()]
    assert warning.name == "adapters.discord.client"
    assert "ValueError" in warning.getMessage() and not warning.exc_info
    assert quoting_users(caplog, DIARY, HELLO, "not-a-number") == []


async def test_unreadable_events_in_a_row_stop_the_client_instead_of_identifying_forever(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    assert discord_client.SKIP_WINDOW >= 60  # the second one comes well within it
    with pytest.raises(ValueError):
        async with adapter(ScriptedEngine(echo), fake, tmp_path) as bot:
            await fake.dm(77, DIARY, author=MALFORMED)
            await fake.wait_for(lambda: fake.identifies == 2)
            await fake.dm(77, DIARY, author=MALFORMED)
            await asyncio.sleep(0.3)  # a third IDENTIFY would come within milliseconds
            assert not bot.is_ready() or fake.identifies == 2
    assert fake.identifies == 2
