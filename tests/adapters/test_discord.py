"""The Discord adapter: real discord.py against the fake Discord, the engine faked at its port.

These tests assert what the engine was handed and what Discord got; what the engine
answers (commands, memory, refusals) is tested in tests/engine/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.types import CommandCall, Image, IncomingMessage, MediaKind, RemoteImage
from tests.adapters.discord_harness import (
    adapter,
    echo,
    key,
    reply_to,
    until,
)
from tests.fakes.discord_api import FakeDiscord, FakeMessage, utf16_units
from tests.fakes.engine import ScriptedEngine

CHANNEL = 901


# -- messages ------------------------------------------------------------------------


async def test_dm_is_answered_with_streamed_edits_ending_in_full_text(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("Hello, this arrives later.", chunk=5)
    engine.gate = asyncio.Event()
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(7, "hi bot")
        first = await fake.wait_for(reply_to(fake, mid))
        assert first.content == "Hello"  # shown before the engine finished
        await fake.wait_for(lambda: fake.typing.get(first.channel_id))  # shown meanwhile
        engine.gate.set()
        await fake.wait_for(lambda: first.content == "Hello, this arrives later.")
    assert first.history[0] == "Hello"
    assert len(fake.bot_messages()) == 1
    assert engine.messages == [
        IncomingMessage(
            key=key(7, 5007),
            text="hi bot",
            display_name="user7",
            message_id=str(mid),
            is_direct=True,
        )
    ]


async def test_a_quick_answer_costs_one_message_and_nothing_else(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("Hello, this is the whole answer at once.", chunk=4)
    async with adapter(engine, fake, tmp_path, TERTULIA_FIRST_WAIT=0.5) as bot:
        calls = len(fake.calls)
        mid = await fake.dm(9, "hi bot")
        answer = await fake.wait_for(reply_to(fake, mid))
        await until(lambda: bot.session.busy == 0)
        made = [(m, p) for m, p, _ in fake.calls[calls:]]
    assert answer.history == ["Hello, this is the whole answer at once."]
    assert made == [("POST", "/channels/5009/messages")]  # no typing, no edits


async def test_guild_message_needs_a_mention_or_a_reply_to_the_bot(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        await fake.guild_message(8, CHANNEL, "just chatting with friends")
        friend = await fake.guild_message(9, CHANNEL, "me too")
        await fake.guild_message(8, CHANNEL, "yes you", reply_to=friend)  # not to the bot
        mid = await fake.guild_message(8, CHANNEL, "<@1001> hello there", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        follow = await fake.guild_message(8, CHANNEL, "and another thing", reply_to=answer.id)
        second = await fake.wait_for(reply_to(fake, follow))
        await fake.wait_for(lambda: second.content == "re: and another thing")
    assert [(m.key, m.text, m.is_direct) for m in engine.messages] == [
        (key(8, CHANNEL), "hello there", False),  # the mention is not part of the text
        (key(8, CHANNEL), "and another thing", False),
    ]
    assert len(fake.bot_messages(CHANNEL)) == 2


async def test_a_bare_mention_reaches_the_engine_as_start(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        mid = await fake.guild_message(8, CHANNEL, "<@1001>", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content == "re: /start")
    [msg] = engine.messages
    assert (msg.command, msg.text, msg.is_direct) == (CommandCall("start"), "", False)


async def test_two_users_in_one_channel_are_two_conversations_answered_side_by_side(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine("first words, then the rest", chunk=11)
    engine.gate = asyncio.Event()
    async with adapter(engine, fake, tmp_path):
        ana = await fake.guild_message(1, CHANNEL, "<@1001> I am Ana", mention=True)
        await fake.wait_for(reply_to(fake, ana))
        # Ana's reply is still streaming: Bob is not kept waiting behind her.
        bob = await fake.guild_message(2, CHANNEL, "<@!1001> I am Bob", mention=True)
        await fake.wait_for(reply_to(fake, bob))
        engine.gate.set()
        done = "first words, then the rest"
        await fake.wait_for(lambda: all(m.content == done for m in fake.bot_messages()))
    assert [m.key for m in engine.messages] == [key(1, CHANNEL), key(2, CHANNEL)]


async def test_a_typed_command_is_handed_over_structured(fake: FakeDiscord, tmp_path: Path) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(10, "/lang es")
        await fake.wait_for(reply_to(fake, mid))
    [msg] = engine.messages
    assert (msg.command, msg.text) == (CommandCall("lang", "es"), "/lang es")


# -- pages ---------------------------------------------------------------------------


def _long_answer() -> str:
    code = "\n".join(f"    total += compute({i}, factor={i * 3})" for i in range(60))
    parts = []
    for n in range(3):
        parts.append(f"Step {n}: here is what the function does and why it matters. " * 5)
        parts.append(f"```python\ndef step_{n}():\n    total = 0\n{code}\n    return total\n```")
    text = "\n\n".join(parts)
    assert len(text) > 5000
    return text


async def test_long_answer_with_code_is_split_into_valid_messages(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    answer = _long_answer()
    engine = ScriptedEngine(answer, chunk=97)
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(9, "show me the code")

        def delivered() -> list[FakeMessage]:
            pages = fake.bot_messages()
            text = "".join(p.content for p in pages)
            return pages if pages and text.rstrip().endswith("return total\n```") else []

        pages = await fake.wait_for(delivered)
    assert len(pages) >= 3
    assert pages[0].reply_to == mid
    assert all(p.reply_to is None for p in pages[1:])  # only the first page quotes
    for page in pages:
        assert 0 < len(page.content) <= 2000
        assert page.content.count("```") % 2 == 0, page.content
    for page in pages[1:]:
        assert not page.content.startswith("```") or page.content.startswith("```python")
    assert_pages_spell([p.content for p in pages], answer)


def assert_pages_spell(pages: list[str], answer: str) -> None:
    """The pages, minus the fences the pager added, are `answer` cut in order.

    Each page, stripped of an added reopening line and closing fence, must be the next
    stretch of `answer` (whitespace may differ only at the cuts): in order, nothing twice.
    """
    reopen, close = "```python\n", "\n```"
    pos = 0
    for page in pages:
        rest = answer[pos:].lstrip()
        pos = len(answer) - len(rest)
        if page.startswith(reopen) and not rest.startswith(reopen):
            page = page.removeprefix(reopen)
        body = page.strip()
        if not rest.startswith(body) and page.endswith(close):
            body = page.removesuffix(close).strip()
        assert rest.startswith(body), f"page out of order or repeated: {body[:80]!r}"
        pos += len(body)
    assert not answer[pos:].strip(), "the end of the answer is missing"


async def test_pages_are_measured_in_utf16_units_as_discord_counts(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    answer = "😀 " * 1000 + "end"  # 2003 characters, 3003 UTF-16 units
    async with adapter(ScriptedEngine(answer, chunk=200), fake, tmp_path):
        await fake.dm(18, "emoji please")
        pages = await fake.wait_for(
            lambda: (
                [p.content for p in fake.bot_messages()]
                if fake.bot_messages() and fake.bot_messages()[-1].content.endswith("end")
                else None
            )
        )
    assert len(pages) == 2
    assert all(utf16_units(p) <= 2000 for p in pages)
    assert " ".join(pages).split() == answer.split()


async def test_a_deleted_reply_is_posted_again_with_the_full_text(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    full = "First part, and then the rest of it."
    engine = ScriptedEngine(full, chunk=10)
    engine.gate = asyncio.Event()
    async with adapter(engine, fake, tmp_path):
        mid = await fake.dm(17, "hi")
        first = await fake.wait_for(reply_to(fake, mid))
        del fake.messages[first.id]  # a moderator removed it mid-stream: edits get 404
        engine.gate.set()
        again = await fake.wait_for(
            lambda: next((m for m in fake.bot_messages() if m.content == full), None)
        )
    assert fake.calls_to("PATCH", rf"/channels/5017/messages/{first.id}")  # it was tried
    assert [m.id for m in fake.bot_messages()] == [again.id]


# -- the gateway ---------------------------------------------------------------------


async def test_dropped_gateway_resumes_and_answers_what_was_missed(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        await fake.drop_connection()
        # Sent while the bot is away: Discord replays it after RESUME.
        missed = await fake.dm(11, "are you there?")
        await fake.wait_for(lambda: fake.resumes == 1)
        first = await fake.wait_for(reply_to(fake, missed))
        after = await fake.dm(11, "still there?")
        await fake.wait_for(reply_to(fake, after))
        # Discord may deliver an event twice: it carries the same idempotency key.
        await fake.dm(11, "are you there?", message_id=missed)
        third = await fake.dm(11, "last one")
        await fake.wait_for(reply_to(fake, third))
    assert fake.identifies == 1  # resumed, not a fresh session
    assert first.content == "re: are you there?"
    assert [m.message_id for m in engine.messages] == [str(missed), str(after), str(third)]
    assert len(fake.bot_messages()) == 3


async def test_an_expired_session_reconnects_with_a_fresh_identify(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with adapter(ScriptedEngine("back"), fake, tmp_path):
        fake.session_id = "expired"  # the RESUME will be refused with op 9
        await fake.drop_connection()
        await fake.wait_for(lambda: fake.identifies == 2)
        mid = await fake.dm(16, "hello again")
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content == "back")
    assert fake.resumes == 0


# -- attachments ---------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10


async def test_an_image_attachment_is_fetched_in_line(fake: FakeDiscord, tmp_path: Path) -> None:
    engine = ScriptedEngine("a cat")
    async with adapter(engine, fake, tmp_path):
        image = fake.attachment(PNG, "cat.png", "image/png")
        pdf = fake.attachment(b"%PDF-1.4", "doc.pdf", "application/pdf")
        mid = await fake.dm(12, "what is this?", attachments=(image, pdf))
        await fake.wait_for(reply_to(fake, mid))
    [msg] = engine.messages
    assert msg.text == "what is this?"
    assert len(msg.images) == 1 and isinstance(msg.images[0], RemoteImage)
    assert msg.unsupported is None  # the image is what the model reads; the pdf is ignored
    assert engine.fetched == [(Image(PNG, "image/png"),)]


@pytest.mark.parametrize(
    ("filename", "content_type", "kind"),
    [
        ("doc.pdf", "application/pdf", MediaKind.FILE),
        ("clip.mp4", "video/mp4", MediaKind.VIDEO),
        ("song.mp3", "audio/mpeg", MediaKind.AUDIO),
        ("dance.gif", "image/gif", MediaKind.ANIMATION),
    ],
)
async def test_other_files_reach_the_engine_as_their_unsupported_kind(
    fake: FakeDiscord, tmp_path: Path, filename: str, content_type: str, kind: MediaKind
) -> None:
    engine = ScriptedEngine("about that file")
    async with adapter(engine, fake, tmp_path):
        attachment = fake.attachment(b"data", filename, content_type)
        mid = await fake.dm(13, "", attachments=(attachment,))
        answer = await fake.wait_for(reply_to(fake, mid))
    [msg] = engine.messages
    assert (msg.unsupported, msg.images, msg.text) == (kind, (), "")
    assert answer.content == "about that file"


async def test_a_broken_attachment_download_gives_the_engine_none(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path) as bot:
        gone = fake.attachment(b"", "gone.png", "image/png")
        fake.attachments.clear()  # the CDN answers 404
        mid = await fake.dm(15, "look", attachments=(gone,))
        await fake.wait_for(reply_to(fake, mid))
        after = await fake.dm(15, "still alive?")
        second = await fake.wait_for(reply_to(fake, after))
        await fake.wait_for(lambda: second.content == "re: still alive?")
        await until(lambda: bot.session.busy == 0)
    assert engine.fetched == [(None,), ()]
