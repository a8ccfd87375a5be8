"""A reply's file (a person's /export) through real discord.py to the fake Discord.

Slash commands send it as a follow-up (ephemeral when the command is private); a DM gets
it as a channel message. Anywhere others would see it, it is refused.
"""

from __future__ import annotations

from pathlib import Path

from bot.commands import REGISTRY
from bot.i18n import t
from bot.types import Attachment, Done, IncomingMessage, Outcome, ReplyEvent, TurnRef
from tests.adapters.discord_harness import adapter, answered, reply_to, until
from tests.fakes.discord_api import FakeDiscord, FakeFile, FakeMessage
from tests.fakes.engine import ScriptedEngine

CHANNEL = 901
EPHEMERAL = 64
REF = TurnRef(1, 1, 1, 2)
# Not UTF-8, with CR LF and NUL: any re-encoding on the way would show.
DATA = b'{"name": "Ana \xc3\xa9"}\r\n\x00\xff\xfe' * 1000
FILE = Attachment("tertulia-export-ana.json", DATA)
TEXT = "Here is everything I keep about you."
PRIVATE = "export"
# The engine is scripted: what matters here is that the command does not answer privately.
PUBLIC = next(name for name, c in REGISTRY.items() if not c.private and not c.args)


def exporting(msg: IncomingMessage) -> list[ReplyEvent]:
    return [TEXT, Done(REF, Outcome.OK, attachment=FILE)]


def with_files(fake: FakeDiscord) -> list[FakeMessage]:
    return [m for m in fake.bot_messages() if m.files]


async def test_a_private_slash_command_gets_its_file_as_an_ephemeral_followup(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    assert REGISTRY[PRIVATE].private
    engine = ScriptedEngine(exporting)
    async with adapter(engine, fake, tmp_path) as bot:
        inter = await fake.slash(PRIVATE, user_id=60)
        [sent] = await fake.wait_for(lambda: with_files(fake))
        await until(lambda: bot.session.busy == 0)
    original = fake.messages[inter.original_id or 0]
    assert inter.ephemeral and original.content == TEXT
    assert inter.followups == [sent.id] and sent.flags & EPHEMERAL
    assert sent.files == [FakeFile(FILE.name, DATA, "application/octet-stream")]
    assert sent.content == "" and sent.channel_id == CHANNEL
    assert engine.undelivered_refs == []


async def test_a_slash_command_in_a_dm_gets_its_file_even_when_not_private(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(exporting)
    async with adapter(engine, fake, tmp_path) as bot:
        inter = await fake.slash(PUBLIC, user_id=61, channel_id=5061)
        [sent] = await fake.wait_for(lambda: with_files(fake))
        await until(lambda: bot.session.busy == 0)
    assert not inter.ephemeral and not sent.flags & EPHEMERAL
    assert [f.data for f in sent.files] == [DATA] and sent.channel_id == 5061


async def test_a_public_slash_command_in_a_guild_never_gets_a_file(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(exporting)
    async with adapter(engine, fake, tmp_path) as bot:
        inter = await fake.slash(PUBLIC, user_id=62)
        await fake.wait_for(answered(fake, inter))
        await until(lambda: bot.session.busy == 0)
    # No file where the channel would see it; the person is told something went wrong.
    assert with_files(fake) == []
    shown = [fake.messages[m].content for m in inter.followups]
    assert shown == [t("internal_error", "en")]
    assert engine.undelivered_refs == [REF]


async def test_a_dm_gets_its_file_in_the_dm_after_the_text(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(exporting)
    async with adapter(engine, fake, tmp_path) as bot:
        mid = await fake.dm(63, "/export")
        [sent] = await fake.wait_for(lambda: with_files(fake))
        await until(lambda: bot.session.busy == 0)
        text = await fake.wait_for(reply_to(fake, mid))
    assert text.content == TEXT and text.id < sent.id  # the text first
    assert sent.channel_id == 5063 and [f.data for f in sent.files] == [DATA]
    assert sent.files[0].filename == FILE.name
    # What Discord answered about the upload is what it shows: a file it serves back.
    [shown] = sent.attachments
    assert (shown["filename"], shown["size"]) == (FILE.name, len(DATA))
    assert engine.undelivered_refs == []


async def test_a_mention_in_a_guild_never_gets_a_file(fake: FakeDiscord, tmp_path: Path) -> None:
    engine = ScriptedEngine(exporting)
    async with adapter(engine, fake, tmp_path) as bot:
        mid = await fake.guild_message(64, CHANNEL, "<@1001> /export", mention=True)
        await fake.wait_for(reply_to(fake, mid))
        await until(lambda: bot.session.busy == 0)
    assert with_files(fake) == []
    assert engine.undelivered_refs == [REF]


async def test_a_file_over_the_size_limit_is_not_retried_and_not_delivered(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(exporting)
    too_large = fake.fail(
        "POST", r"/webhooks/\d+/[^/]+", 413, code=40005, message="Request entity too large"
    )
    async with adapter(engine, fake, tmp_path) as bot:
        inter = await fake.slash(PRIVATE, user_id=65)
        await fake.wait_for(answered(fake, inter))
        await until(lambda: bot.session.busy == 0)
    assert too_large.hits == 1 and with_files(fake) == []
    assert engine.undelivered_refs == [REF]


async def test_a_file_with_no_text_takes_the_place_of_thinking(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine([Done(REF, Outcome.OK, attachment=FILE)])
    async with adapter(engine, fake, tmp_path) as bot:
        inter = await fake.slash(PRIVATE, user_id=66)
        [sent] = await fake.wait_for(lambda: with_files(fake))
        await until(lambda: bot.session.busy == 0)
    assert sent.id == inter.original_id and inter.followups == []
    assert sent.id in fake.messages and sent.flags & EPHEMERAL  # not deleted as "nothing said"
    assert [f.data for f in sent.files] == [DATA]
    assert engine.undelivered_refs == []
