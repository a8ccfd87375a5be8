"""Telegram platform faults end to end: flood control, 5xx, resets, refused connections, polling.

The real python-telegram-bot client meets each fault from the fake Bot API on 127.0.0.1,
in real time; the shapes of waits and backoff are tested with a hand-driven clock in
tests/delivery. Outages of whole seconds keep these tests at a few seconds each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.delivery import Policy
from bot.types import Accepted, Done, Outcome, TurnRef
from tests.adapters.telegram_harness import ANA, BEN, GROUP, StartBot, bot_starter, free_port
from tests.adapters.test_telegram_process import start_adapter, stop_adapter
from tests.fakes.engine import ScriptedEngine
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI

REF = TurnRef(1, 1, 1, 2)
PAGE = "A sentence that fills the page up, one of many. " * 90  # ~4400 characters


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


async def short_sleep(seconds: float) -> None:
    # Backoff keeps its order, but no jittered wait runs long past the end of a fault.
    await asyncio.sleep(min(seconds, 0.2))


def fast(deadline: float = 20.0) -> Policy:
    return Policy(interval=0, first_wait=0, deadline=deadline, sleep=short_sleep)


# -- flood control (429) -------------------------------------------------------------


async def test_a_rate_limit_on_a_later_page_is_waited_out_and_no_page_is_lost_or_doubled(
    start_bot: StartBot,
) -> None:
    answer = (PAGE + "\n\n") * 3  # three pages of ~4400 characters: each past one message
    policy = Policy(interval=0, first_wait=0, deadline=20.0)  # real waits
    bot = await start_bot(ScriptedEngine(answer, chunk=len(answer)), policy)
    api = bot.api
    # The second page's send is refused with flood control; its retry_after is honoured.
    api.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 1",
        retry_after=1,
        match=lambda p: len(api.calls_of("sendMessage", ANA)) == 2,
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    api.push_text(ANA, ANA, "a long one, please")
    await bot.answered(ANA, 4)
    texts = api.texts(ANA)
    assert [e[:2] for e in api.errors] == [("sendMessage", 429)]
    assert loop.time() - started >= 1.0  # not before Telegram allowed it
    assert len(texts) == len(set(texts))  # no page twice
    assert " ".join(texts).split() == answer.split()  # none lost, in order
    assert bot.engine.undelivered_refs == []


# -- 5xx and network errors mid-reply ------------------------------------------------


async def test_connections_reset_mid_reply_are_retried_and_the_reply_lands_once(
    start_bot: StartBot,
) -> None:
    answer = "The first words, and then a good deal more of the answer, to the end."
    bot = await start_bot(ScriptedEngine(answer, chunk=12), fast())
    bot.api.drop_next("sendMessage", times=2)  # the first send is cut twice ...
    bot.api.drop_next("editMessageText", times=3)  # ... and so is every edit for a while
    bot.api.push_text(ANA, ANA, "hello")
    assert await bot.answered(ANA) == [answer]
    assert len(bot.api.bot_messages(ANA)) == 1
    assert bot.api.pending_failures() == 0  # every cut was met, and ridden out
    assert bot.engine.undelivered_refs == []


async def test_a_5xx_on_edits_mid_reply_is_retried_with_backoff(start_bot: StartBot) -> None:
    answer = "Streamed while the proxy in front of Telegram answers 503 for a while."
    bot = await start_bot(ScriptedEngine(answer, chunk=10), fast())
    bot.api.fail_for("editMessageText", 1.5, 503, "Service Unavailable")
    bot.api.push_text(ANA, ANA, "hello")
    await bot.api.wait_for(lambda: bot.api.texts(ANA) == [answer], timeout=10)
    await bot.settled()
    assert any(e[:2] == ("editMessageText", 503) for e in bot.api.errors)
    assert len(bot.api.bot_messages(ANA)) == 1
    assert bot.engine.undelivered_refs == []


async def test_the_api_refusing_connections_mid_reply_is_ridden_out_and_polling_resumes(
    start_bot: StartBot,
) -> None:
    engine = ScriptedEngine("The first words. And the rest, once Telegram is back.", chunk=17)
    engine.gate = asyncio.Event()
    bot = await start_bot(engine, fast())
    api = bot.api
    api.push_text(ANA, ANA, "hello")
    await api.wait_for(lambda: api.texts(ANA))  # the first words are out
    await api.go_down()  # connections cut (the long poll too), new ones refused
    engine.gate.set()
    await asyncio.sleep(1.5)
    await api.come_back()
    await api.wait_for(
        lambda: api.texts(ANA) == ["The first words. And the rest, once Telegram is back."],
        timeout=15,
    )
    api.push_text(BEN, BEN, "anyone there?")  # polling came back by itself
    await api.wait_for(lambda: api.texts(BEN), timeout=15)
    await bot.settled()
    assert engine.undelivered_refs == []


# -- polling ---------------------------------------------------------------------------


async def test_polling_survives_a_get_updates_outage_without_a_tight_loop(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await start_bot(ScriptedEngine("Back."), fast())
    api = bot.api
    api.fail_for("getUpdates", 2.0, 502)
    await api.wait_for(lambda: any(e[0] == "getUpdates" for e in api.errors))
    api.push_text(ANA, ANA, "are you there?")  # waits on Telegram's side meanwhile
    assert await bot.answered(ANA) == ["Back."]
    failed = [e for e in api.errors if e[0] == "getUpdates"]
    assert 1 <= len(failed) <= 6  # PTB backs off (1 s, 1.5 s, ...), never hammers the API
    assert api.token not in caplog.text
    # One warning line per failed poll, not PTB's traceback each time.
    polls = [r for r in caplog.records if "getUpdates failed" in r.getMessage()]
    assert len(polls) == len(failed) and not any(r.exc_info for r in polls)
    assert not [r for r in caplog.records if r.name == "telegram.ext.Updater" and r.exc_info]


async def test_polling_waits_out_flood_control_on_get_updates(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Patience."), fast())
    bot.api.fail_next("getUpdates", 429, "Too Many Requests: retry after 1", retry_after=1)
    await bot.api.wait_for(lambda: bot.api.errors)
    refused = len(bot.api.calls_of("getUpdates"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    bot.api.push_text(ANA, ANA, "hello?")
    assert await bot.answered(ANA) == ["Patience."]
    assert loop.time() - started >= 0.9  # PTB slept the retry_after (plus half a second)
    assert len(bot.api.calls_of("getUpdates")) <= refused + 2


async def test_polling_survives_dropped_connections(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine("Still here."), fast())
    bot.api.drop_next("getUpdates", times=2)
    bot.api.push_text(ANA, ANA, "hello?")
    assert await bot.answered(ANA) == ["Still here."]
    assert bot.api.pending_failures("getUpdates") == 0


# -- chats the bot can no longer write to -----------------------------------------------


@pytest.mark.parametrize(
    ("chat", "code", "description"),
    [
        (ANA, 403, "Forbidden: bot was blocked by the user"),
        (GROUP, 400, "Bad Request: chat not found"),
        (GROUP, 403, "Forbidden: bot was kicked from the supergroup chat"),
    ],
)
async def test_a_chat_gone_at_the_final_send_is_recorded_undelivered_and_not_retried(
    start_bot: StartBot, chat: int, code: int, description: str
) -> None:
    engine = ScriptedEngine([Accepted(REF), "An answer nobody will see.", Done(REF, Outcome.OK)])
    # The answer is held back for half a second, so its one send is the final one.
    bot = await start_bot(engine, Policy(interval=0, first_wait=0.5, deadline=5.0))
    to_chat = lambda p: p["chat_id"] == chat  # noqa: E731
    bot.api.fail_next("sendMessage", code, description, times=100, match=to_chat)
    text = "hello" if chat > 0 else "@tertulia_bot hello"
    bot.api.push_text(chat, ANA, text)
    await bot.api.wait_for(lambda: bot.api.calls_of("sendMessage", chat))
    await bot.settled()
    assert engine.undelivered_refs == [REF]  # never fed back as said ...
    assert engine.delivered_refs == []  # ... never remembered as seen
    assert len(bot.api.calls_of("sendMessage", chat)) == 1  # no retry, no error notice
    bot.api.push_text(BEN, BEN, "hi")  # others are answered as usual
    await bot.api.wait_for(lambda: bot.api.texts(BEN), timeout=5)


# -- poison input in webhook mode ------------------------------------------------------

DIARY = "my secret diary, do not log me"


async def test_an_unreadable_update_posted_to_the_webhook_is_skipped_once_without_its_text(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    bot = await start_bot(
        ScriptedEngine("Hi!"),
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=port,
        TELEGRAM_WEBHOOK_SECRET="s3cret-webhook",
    )
    api = bot.api
    assert api.webhook is not None and api.webhook["url"].endswith("/tg/hook")
    message = api.make_message(ANA, ANA, text=DIARY)
    # 200: Telegram would otherwise send it again and again, holding back what follows.
    assert await api.post_to_webhook({"message": {**message, "date": "not-a-number"}}) == 200
    assert await api.post_to_webhook({"message": api.make_message(BEN, BEN, text="hello")}) == 200
    assert await bot.answered(BEN) == ["Hi!"]
    assert [m.text for m in bot.engine.messages] == ["hello"]
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "cannot read it (TypeError)" in warning.getMessage() and not warning.exc_info
    assert DIARY not in caplog.text  # at any level


async def test_the_webhook_refuses_requests_without_the_secret(start_bot: StartBot) -> None:
    port = free_port()
    bot = await start_bot(
        ScriptedEngine("Hi!"),
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=port,
        TELEGRAM_WEBHOOK_SECRET="s3cret-webhook",
    )
    update = {"message": bot.api.make_message(ANA, ANA, text="let me in")}
    assert await bot.api.post_to_webhook(update, secret="wrong") == 403
    assert await bot.api.post_to_webhook(update) == 200
    assert await bot.answered(ANA) == ["Hi!"]
    assert [m.text for m in bot.engine.messages] == ["let me in"]


async def test_a_group_that_refused_the_bot_is_not_retried_on_every_later_message(
    start_bot: StartBot,
) -> None:
    # The bot was muted in the group: it still gets mentions, but may not write there.
    muted = "Bad Request: not enough rights to send text messages to the chat"
    engine = ScriptedEngine(lambda m: f"re: {m.text}")
    bot = await start_bot(engine, Policy(interval=0, first_wait=0, deadline=5.0))
    api = bot.api
    in_group = lambda p: p["chat_id"] == GROUP  # noqa: E731
    for method in ("sendMessage", "sendChatAction"):
        api.fail_next(method, 400, muted, times=1000, match=in_group)
    api.push_text(GROUP, ANA, "@tertulia_bot one")
    await api.wait_for(lambda: api.calls_of("sendMessage", GROUP))
    await bot.settled()
    # A storm of mentions after the refusal, each after the one before was handled.
    for n in range(2, 12):
        api.push_text(GROUP, BEN, f"@tertulia_bot {n}")
        await bot.settled()
    assert len(api.calls_of("sendMessage", GROUP)) == 1  # refused once, never tried again
    assert len(api.calls_of("sendChatAction", GROUP)) <= 2  # at most one cheap probe
    assert len(engine.fetched) == 1  # only "one" reached the model
    assert len(engine.messages) == 11  # every mention was handed over (and stored)

    # Given the right to write again, the group is answered once a probe finds it back.
    api._failures.clear()
    bot.session.reprobe_after = 0.0  # rather than wait out a minute
    api.push_text(GROUP, ANA, "@tertulia_bot back?")
    assert await bot.answered(GROUP) == ["re: back?"]


# -- the process -------------------------------------------------------------------------


async def test_no_fault_stops_the_process(tmp_path: Path) -> None:
    db, log = tmp_path / "t.db", tmp_path / "adapter.log"
    async with FakeTelegramAPI() as api, FakeOpenAIServer("Hola") as model:
        proc = await start_adapter(api, model, db, log)
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            api.fail_for("getUpdates", 1.0, 502)  # an outage of the Bot API's front proxy
            api.drop_next("sendMessage")  # the first answer's connection is cut
            api.fail_next("sendChatAction", 429, "Too Many Requests: retry after 1", retry_after=1)
            api.push_text(ANA, ANA, "hello")
            await api.wait_for(lambda: api.texts(ANA) == ["Hola"], timeout=20)
            await api.go_down()  # refused outright for a second
            await asyncio.sleep(1.0)
            await api.come_back()
            api.push_text(BEN, BEN, "still there?")
            await api.wait_for(lambda: api.texts(BEN) == ["Hola"], timeout=30)
            assert proc.returncode is None  # it never stopped
        finally:
            code = await stop_adapter(proc, log)
    assert code == 0, log.read_text()
    assert api.texts(ANA) == ["Hola"]  # once: the cut send was retried, not doubled
    assert api.token not in log.read_text()
