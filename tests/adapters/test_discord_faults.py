"""Discord platform faults end to end: rate limits, 5xx, resets, a gateway that is down, lost channels.

Real discord.py against the fake Discord on 127.0.0.1, engine faked at its port; waits
are real, so each fault lasts a second or less.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.types import Accepted, Done, Outcome, TurnRef
from tests.adapters.discord_harness import adapter, echo, reply_to, until
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_records import DROP
from tests.fakes.engine import ScriptedEngine

CHANNEL = 901
ANSWER = "Hello, this is the whole answer, in one piece."
REF = TurnRef(1, 1, 1, 2)


def dm_channel(user: int) -> str:
    return rf"/channels/{5000 + user}/messages"


# -- rate limits -------------------------------------------------------------------------


@pytest.mark.parametrize("via", [False, True], ids=["no-via", "via"])
async def test_a_route_rate_limit_on_a_send_is_waited_out_and_posts_once(
    fake: FakeDiscord, tmp_path: Path, via: bool
) -> None:
    # Without Via discord.py raises the 429 and delivery waits its Retry-After; with it,
    # discord.py sleeps and retries itself. Either way: one message, the whole answer.
    limited = fake.fail("POST", dm_channel(40), 429, times=2, retry_after=0.4, via=via)
    engine = ScriptedEngine(ANSWER)
    async with adapter(engine, fake, tmp_path, TERTULIA_FIRST_WAIT=0.3) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        mid = await fake.dm(40, "hi")
        answer = await fake.wait_for(reply_to(fake, mid))
        await until(lambda: bot.session.busy == 0)
        waited = loop.time() - started
    assert limited.hits == 2
    assert waited >= 0.8  # both retry_afters honoured
    assert [m.content for m in fake.bot_messages()] == [ANSWER]
    assert answer.history == [ANSWER]
    assert engine.undelivered_refs == []


async def test_a_global_rate_limit_holds_the_other_channels_too(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    # The bot-wide limit: discord.py stops every request until it is over, not one route.
    limited = fake.fail("POST", dm_channel(41), 429, retry_after=1.0, via=True, global_=True)
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path, TERTULIA_FIRST_WAIT=0) as bot:
        first = await fake.dm(41, "one")
        await fake.wait_for(lambda: limited.hits == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        other = await fake.dm(42, "two")  # another DM channel, another route
        await fake.wait_for(reply_to(fake, other))
        held = loop.time() - started
        await fake.wait_for(reply_to(fake, first))
        await until(lambda: bot.session.busy == 0)
    assert held >= 0.7  # it waited for the global limit to pass
    assert sorted(m.content for m in fake.bot_messages()) == ["re: one", "re: two"]
    assert engine.undelivered_refs == []


# -- 5xx and resets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "times"),
    [(500, 1), (503, 3)],
    ids=["500-retried-by-discord.py", "503-retried-by-delivery"],
)
async def test_server_errors_on_a_send_are_retried_and_post_once(
    fake: FakeDiscord, tmp_path: Path, status: int, times: int
) -> None:
    failing = fake.fail("POST", dm_channel(43), status, times=times, message="upstream trouble")
    engine = ScriptedEngine(ANSWER)
    async with adapter(engine, fake, tmp_path, TERTULIA_FIRST_WAIT=0.3) as bot:
        mid = await fake.dm(43, "hi")
        await fake.wait_for(reply_to(fake, mid), timeout=10)
        await until(lambda: bot.session.busy == 0, timeout=10)
    assert failing.hits == times
    assert [m.content for m in fake.bot_messages()] == [ANSWER]
    assert engine.undelivered_refs == []


async def test_connections_reset_mid_reply_are_retried_and_the_reply_lands_once(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    sends = fake.fail("POST", dm_channel(44), DROP, times=2)
    edits = fake.fail("PATCH", dm_channel(44) + r"/\d+", DROP, times=2)
    engine = ScriptedEngine(ANSWER, chunk=10)
    async with adapter(engine, fake, tmp_path) as bot:
        mid = await fake.dm(44, "hi")
        answer = await fake.wait_for(reply_to(fake, mid), timeout=10)
        await fake.wait_for(lambda: answer.content == ANSWER, timeout=10)
        await until(lambda: bot.session.busy == 0)
    assert (sends.hits, edits.hits) == (2, 2)
    assert [m.id for m in fake.bot_messages()] == [answer.id]  # no second copy
    assert engine.undelivered_refs == []


# -- the gateway ---------------------------------------------------------------------------


async def test_a_gateway_that_is_down_for_a_while_is_reconnected_and_nothing_is_missed(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path) as bot:
        fake.gateway_down = True
        await fake.drop_connection()
        missed = await fake.dm(45, "while you were away")  # replayed on RESUME
        await fake.wait_for(lambda: fake.gateway_refused >= 1, timeout=10)
        fake.gateway_down = False
        answer = await fake.wait_for(reply_to(fake, missed), timeout=15)
        after = await fake.dm(45, "and now?")
        await fake.wait_for(reply_to(fake, after), timeout=5)
        assert not bot.is_closed()
    assert answer.content == "re: while you were away"
    assert fake.resumes == 1 and fake.identifies == 1  # the same session, resumed


# -- channels the bot can no longer write to -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (404, 10003, "Unknown Channel"),
        (403, 50001, "Missing Access"),
        (403, 50007, "Cannot send messages to this user"),
    ],
)
async def test_a_channel_gone_at_the_send_is_not_retried_and_recorded_undelivered(
    fake: FakeDiscord, tmp_path: Path, status: int, code: int, message: str
) -> None:
    gone = fake.fail("POST", dm_channel(46), status, code=code, message=message, times=None)
    engine = ScriptedEngine(
        lambda m: [Accepted(REF), ANSWER, Done(REF, Outcome.OK)] if m.text == "hi" else echo(m)
    )
    async with adapter(engine, fake, tmp_path, TERTULIA_FIRST_WAIT=0.3) as bot:
        await fake.dm(46, "hi")
        await fake.wait_for(lambda: gone.hits)
        await until(lambda: bot.session.busy == 0)
        other = await fake.dm(47, "still there?")  # the rest of Discord is answered
        await fake.wait_for(reply_to(fake, other))
    assert gone.hits == 1  # no retry, no error notice after it
    assert engine.undelivered_refs == [REF]  # never fed back as said ...
    assert REF not in engine.delivered_refs  # ... nor remembered as seen


async def test_a_channel_that_lost_access_is_not_retried_on_every_later_mention(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    # 50001 Missing Access while the gateway still brings the channel's messages.
    refused = fake.fail(
        "POST",
        rf"/channels/{CHANNEL}/(messages|typing)",
        403,
        code=50001,
        message="Missing Access",
        times=None,
    )
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path) as bot:
        await fake.guild_message(8, CHANNEL, "<@1001> one", mention=True)
        await fake.wait_for(lambda: fake.calls_to("POST", rf"/channels/{CHANNEL}/messages"))
        await until(lambda: bot.session.busy == 0)
        for n in range(2, 12):  # a storm of mentions, each after the one before was handled
            await fake.guild_message(9, CHANNEL, f"<@1001> {n}", mention=True)
            handed = n
            await until(lambda: bot.session.busy == 0 and len(engine.messages) == handed)  # noqa: B023
        await until(lambda: bot.session.busy == 0)
    assert len(fake.calls_to("POST", rf"/channels/{CHANNEL}/messages")) == 1
    assert len(fake.calls_to("POST", rf"/channels/{CHANNEL}/typing")) <= 2  # one probe
    assert refused.hits <= 3
    assert len(engine.fetched) == 1  # only "one" reached the model
