"""The Telegram adapter end to end when things go wrong: outages, refusals, blocked chats.

The shapes of retries and backoff are tested with a hand-driven clock in tests/delivery;
here the real client meets real HTTP errors from the fake Bot API, in real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from adapters.delivery import ChatGone, PageGone, Policy, RateLimited, Rejected, Transient
from adapters.telegram.http import AiohttpRequest
from adapters.telegram.surface import translated
from bot.i18n import t
from bot.types import Accepted, ConversationKey, Done, Image, Outcome, TurnRef
from tests.adapters.telegram_harness import ANA, BEN, StartBot, bot_starter, call_order
from tests.fakes.engine import ScriptedEngine
from tests.fakes.telegram_api import FakeTelegramAPI

REF = TurnRef(1, 1, 1, 2)


@pytest.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    async with bot_starter() as start:
        yield start


async def short_sleep(seconds: float) -> None:
    # Retries keep their order and the deadline its real clock, but no jittered wait
    # runs long past the end of an outage (the backoff itself: tests/delivery).
    await asyncio.sleep(min(seconds, 0.2))


# -- outages and refusals ----------------------------------------------------------------


async def test_a_send_outage_is_ridden_out_and_the_reply_counts_as_delivered(
    start_bot: StartBot,
) -> None:
    answer = "An answer that waits for Telegram to come back."
    policy = Policy(interval=0, deadline=30.0, sleep=short_sleep)
    bot = await start_bot(ScriptedEngine(answer), policy)
    bot.api.fail_for("sendMessage", 3.0)  # 502 Bad Gateway from the proxy in front
    loop = asyncio.get_running_loop()
    started = loop.time()
    bot.api.push_text(ANA, ANA, "are you there?")
    await bot.api.wait_for(lambda: bot.api.texts(ANA) == [answer], timeout=10)
    await bot.settled()
    assert loop.time() - started >= 2.9  # not before Telegram was back
    outage = [e for e in bot.api.errors if e[:2] == ("sendMessage", 502)]
    assert len(outage) >= 3  # it kept trying: the progress sends and the final one
    assert bot.engine.undelivered_refs == []
    assert len(bot.api.bot_messages(ANA)) == 1  # the answer, not an error notice with it


async def test_an_outage_past_the_deadline_leaves_the_reply_undelivered(
    start_bot: StartBot,
) -> None:
    engine = ScriptedEngine([Accepted(REF), "An answer nobody will see.", Done(REF, Outcome.OK)])
    bot = await start_bot(engine, Policy(interval=0, deadline=1.0))
    bot.api.fail_for("sendMessage", 60.0)
    bot.api.push_text(ANA, ANA, "are you there?")
    await bot.api.wait_for(lambda: engine.undelivered_refs, timeout=5)
    await bot.settled()
    assert engine.undelivered_refs == [REF]  # never fed back to the model as said
    assert bot.api.bot_messages(ANA) == []
    assert len(bot.api.calls_of("sendMessage")) >= 2  # tried, then gave up (and the notice)


async def test_a_chat_that_blocked_the_bot_is_recognised_at_once(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(lambda m: f"re: {m.text}"))
    blocked = "Forbidden: bot was blocked by the user"
    for method in ("sendMessage", "sendChatAction", "editMessageText"):
        bot.api.fail_next(method, 403, blocked, times=100, match=lambda p: p["chat_id"] == ANA)
    held = bot.api.hold("sendMessage")  # the first reply's send is on its way ...
    bot.api.push_text(ANA, ANA, "one")
    await bot.api.wait_for(lambda: bot.api.calls_of("sendMessage", ANA))
    bot.api.push_text(ANA, ANA, "two")  # ... while two more wait in Ana's line
    bot.api.push_text(ANA, ANA, "three")
    await bot.busy_with(3)
    held.set()
    await bot.settled()
    calls = call_order(bot, ANA)
    # One send, refused, never retried and no error notice after it; "two" and "three"
    # caused no call at all (each would have shown "typing" and sent its reply).
    assert calls.count("sendMessage") == 1
    assert calls.count("sendChatAction") <= 1 and len(calls) <= 2, calls
    # All three were handed over in order; the session stopped the last two at Accepted,
    # before their model calls.
    assert [m.text for m in bot.engine.messages] == ["one", "two", "three"]
    assert bot.engine.undelivered_refs == []  # nothing was said, nothing to settle
    bot.api.push_text(BEN, BEN, "hi")  # other chats are answered as usual
    assert await bot.answered(BEN) == ["re: hi"]


async def test_a_duplicate_shows_no_typing(start_bot: StartBot) -> None:
    bot = await start_bot(ScriptedEngine(lambda m: f"re: {m.text}", delay=0.05))
    first = bot.api.push_text(ANA, ANA, "only once")
    await bot.answered(ANA)
    seen = len(bot.api.calls)
    bot.api.push_update({"message": first})  # Telegram delivers it again (after a restart)
    bot.api.push_text(ANA, ANA, "next")  # in line behind the duplicate
    await bot.answered(ANA, 2)
    after = [m for m, p in bot.api.calls[seen:] if p.get("chat_id") == ANA]
    # Only "next" shows typing and gets a reply: the duplicate caused no call at all.
    assert after[0] == "sendChatAction" and after.count("sendChatAction") == 1
    assert after.count("sendMessage") == 1


async def test_a_slow_photo_is_still_answered_before_the_text_that_follows_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ScriptedEngine(lambda m: f"re: {m.text}"))
    bot.api.file_delay = 0.3  # the photo downloads while the text is already in
    bot.api.push_photo(ANA, ANA, b"\xff\xd8 jpeg", caption="what is this?")
    bot.api.push_text(ANA, ANA, "and then?")
    assert await bot.answered(ANA, 2) == ["re: what is this?", "re: and then?"]
    assert [m.text for m in bot.engine.messages] == ["what is this?", "and then?"]
    assert bot.engine.fetched == [(Image(b"\xff\xd8 jpeg", "image/jpeg"),), ()]


@pytest.mark.parametrize(
    "error", ["Bad Request: message to edit not found", "Bad Request: message can't be edited"]
)
async def test_a_refused_final_edit_still_delivers_the_whole_reply(
    start_bot: StartBot, error: str
) -> None:
    answer = "A long answer with **bold** words that arrives in chunks and must end complete."
    bot = await start_bot(ScriptedEngine(answer, chunk=8), TERTULIA_EDIT_INTERVAL=60)
    bot.api.fail_next("editMessageText", 400, error)
    bot.api.push_text(ANA, ANA, "tell me")
    await bot.answered(ANA, 2)
    first, rest = bot.api.bot_messages(ANA)
    assert first.text == answer[:8]  # what it showed when it could no longer be edited
    assert rest.text == answer.replace("**", "")  # the rest went in a new message ...
    assert [e["type"] for e in rest.entities] == ["bold"]  # ... still formatted
    assert bot.engine.undelivered_refs == []


async def test_a_failed_answer_keeps_what_arrived_and_adds_the_notice(
    start_bot: StartBot,
) -> None:
    failed = Done(REF, Outcome.FAILED, "The model stopped answering.")
    engine = ScriptedEngine([Accepted(REF), "Hello ", "wor", failed])
    bot = await start_bot(engine, TERTULIA_EDIT_INTERVAL=60)
    bot.api.push_text(ANA, ANA, "hi")
    await bot.answered(ANA)
    # Not the stale "Hello " of the first send: the whole text, then the notice.
    assert bot.api.texts(ANA) == ["Hello wor\n\nThe model stopped answering."]


async def test_a_reply_refused_twice_becomes_a_notice_in_the_chosen_language(
    start_bot: StartBot,
) -> None:
    answer = "Hello, how are you?"
    engine = ScriptedEngine(answer)
    engine.chosen_lang[ConversationKey("telegram", str(ANA), str(ANA))] = "es"  # via /lang
    bot = await start_bot(engine)
    # Refused however it is sent; the notice itself goes through.
    refused = ("sendMessage", 400, "Bad Request: TOPIC_CLOSED")
    bot.api.fail_next(*refused, times=10, match=lambda p: p["text"].startswith("Hello"))
    bot.api.push_text(ANA, ANA, "hello", language_code="en")
    assert await bot.answered(ANA) == [t("internal_error", "es")]
    assert len(engine.undelivered_refs) == 1


async def test_a_group_upgraded_to_a_supergroup_gets_the_reply_on_its_new_id(
    start_bot: StartBot,
) -> None:
    old, new = -5, -100555
    bot = await start_bot(ScriptedEngine("Still here."))
    bot.api.fail_next(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to=new,
        match=lambda p: p["chat_id"] == old,
    )
    bot.api.push_text(old, ANA, "@tertulia_bot hi", chat_type="group")
    assert await bot.answered(new) == ["Still here."]
    assert bot.api.bot_messages(old) == []


# -- Bot API errors as delivery sees them ----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "description", "expected"),
    [
        (403, "Forbidden: bot was blocked by the user", ChatGone),
        (403, "Forbidden: bot was kicked from the supergroup chat", ChatGone),
        (400, "Bad Request: chat not found", ChatGone),
        (400, "Bad Request: message to edit not found", PageGone),
        (400, "Bad Request: message can't be edited", PageGone),
        (400, "Bad Request: can't parse entities: unclosed", Rejected),
        (400, "Bad Request: message is too long", Rejected),
        (429, "Too Many Requests: retry after 7", RateLimited),
        (500, "Internal Server Error", Transient),
        (502, "Bad Gateway", Transient),
    ],
)
async def test_bot_api_errors_are_translated_for_delivery(
    code: int, description: str, expected: type[Exception]
) -> None:
    async with (
        FakeTelegramAPI() as api,
        Bot(api.token, base_url=api.base_url, request=AiohttpRequest(pool=2)) as bot,
    ):
        if code >= 500:
            api.fail_for("sendMessage", 60, code, description)
        else:
            api.fail_next("sendMessage", code, description, retry_after=7 if code == 429 else None)
        with pytest.raises(expected) as info:
            await translated(bot.send_message(ANA, "hi"))
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7.0


async def test_a_timeout_is_transient() -> None:
    async with (
        FakeTelegramAPI() as api,
        Bot(api.token, base_url=api.base_url, request=AiohttpRequest(pool=2)) as bot,
    ):
        api.hold("sendMessage")  # never answered
        with pytest.raises(Transient):
            await translated(bot.send_message(ANA, "hi", read_timeout=0.1))
