"""The Discord adapter end to end: real discord.py against the fake Discord, scripted model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.i18n import media_name, t
from bot.types import IncomingMessage, Turn
from tests.adapters.discord_harness import GatedModel, discord_settings, running_bot
from tests.fakes.discord_api import FakeDiscord, FakeInteraction, FakeMessage
from tests.fakes.model import FakeModel

CHANNEL = 901


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


def user_texts(turns: Sequence[Turn]) -> str:
    return " | ".join(turn.text for turn in turns if turn.role == "user")


def answered(fake: FakeDiscord, inter: FakeInteraction) -> Callable[[], FakeMessage | None]:
    """The interaction's original response once the bot has edited it past "thinking"."""

    def check() -> FakeMessage | None:
        msg = fake.messages.get(inter.original_id or 0)
        return msg if msg is not None and len(msg.history) > 1 else None

    return check


def reply_to(fake: FakeDiscord, message_id: int) -> Callable[[], FakeMessage | None]:
    return lambda: next((m for m in fake.bot_messages() if m.reply_to == message_id), None)


async def test_dm_is_answered_with_streamed_edits_ending_in_full_text(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = GatedModel("Hello", ", this arrives later.")
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        mid = await fake.dm(7, "hi bot")
        first = await fake.wait_for(reply_to(fake, mid))
        assert first.content == "Hello"  # shown before the model finished
        assert fake.typing.get(first.channel_id, 0) >= 1
        model.gate.set()
        await fake.wait_for(lambda: first.content == "Hello, this arrives later.")
    assert first.history[0] == "Hello"
    assert first.history[-1] == "Hello, this arrives later."
    assert len(fake.bot_messages()) == 1
    assert user_texts(model.calls[0][1]) == "hi bot"


async def test_guild_message_needs_a_mention_or_a_reply_to_the_bot(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        await fake.guild_message(8, CHANNEL, "just chatting with friends")
        mid = await fake.guild_message(8, CHANNEL, "<@1001> hello there", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content == "hello there")
        assert len(model.calls) == 1  # the unmentioned message never reached the engine

        follow = await fake.guild_message(8, CHANNEL, "and another thing", reply_to=answer.id)
        second = await fake.wait_for(reply_to(fake, follow))
        await fake.wait_for(lambda: second.content.endswith("and another thing"))
    assert second.content == "hello there | and another thing"
    assert len(fake.bot_messages(CHANNEL)) == 2


async def test_a_bare_mention_gets_a_greeting(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        mid = await fake.guild_message(8, CHANNEL, "<@1001>", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: "/help" in answer.content)
    assert answer.content.startswith("Hi ")
    assert model.calls == []  # a greeting, not a question for the model


async def test_two_users_in_one_channel_have_separate_conversations(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        for user, text in ((1, "I am Ana"), (2, "I am Bob")):
            mid = await fake.guild_message(user, CHANNEL, f"<@1001> {text}", mention=True)
            await fake.wait_for(reply_to(fake, mid))
        mid = await fake.guild_message(1, CHANNEL, "<@!1001> who am I?", mention=True)
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content.endswith("who am I?"))
    assert answer.content == "I am Ana | who am I?"


async def test_each_slash_command_is_answered_through_the_interaction(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = make_engine(FakeModel("the model's answer"))
    async with running_bot(engine, discord_settings(fake, tmp_path)):
        for command in engine.commands():
            inter = await fake.slash(command.name, user_id=50)
            answer = await fake.wait_for(answered(fake, inter))
            assert inter.callback_type == 5  # deferred, then the original edited
            assert inter.ephemeral == command.private, command.name
            assert answer.content.strip(), command.name
        assert command.name == "stats"
        assert answer.content == t("admin_only", "en", name="stats")

        ask = await fake.slash("ask", {"prompt": "what is 2+2?"}, user_id=51)
        assert (await fake.wait_for(answered(fake, ask))).content == "the model's answer"
        assert not ask.ephemeral

        lang = await fake.slash("lang", {"language": "es"}, user_id=52)
        assert (await fake.wait_for(answered(fake, lang))).content == t("lang_set", "es")
        user = IncomingMessage("discord", "52", str(CHANNEL), "")
        assert await engine.language(user) == "es"

        # The user's client language picks the answer's language.
        help_es = await fake.slash("help", user_id=53, locale="es-ES")
        answer = await fake.wait_for(answered(fake, help_es))
        assert answer.content.startswith(t("help_header", "es"))


async def test_command_tree_sync_sends_every_command_with_spanish(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = make_engine()
    async with running_bot(engine, discord_settings(fake, tmp_path)):
        pass
    payload = {c["name"]: c for c in fake.commands[f"/applications/{fake.app_id}/commands"]}
    assert set(payload) == {c.name for c in engine.commands()} | {"ask"}
    for command in engine.commands():
        sent = payload[command.name]
        assert sent["description"] == command.description["en"]
        spanish = command.description["es"]
        assert sent["description_localizations"] == {"es-ES": spanish, "es-419": spanish}
        options = {o["name"]: o for o in sent.get("options", [])}
        assert set(options) == {a.name for a in command.args}
        for arg in command.args:
            assert options[arg.name]["description_localizations"]["es-ES"] == arg.description["es"]
            assert options[arg.name]["required"] == arg.required
            assert [c["value"] for c in options[arg.name].get("choices", [])] == list(arg.choices)
    assert payload["ask"]["options"][0]["name"] == "prompt"
    assert payload["ask"]["options"][0]["required"] is True
    assert payload["ask"]["description_localizations"]["es-419"]


async def test_sync_goes_to_the_dev_guild_when_set(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    settings = discord_settings(fake, tmp_path, DISCORD_DEV_GUILD=fake.guild_id)
    async with running_bot(make_engine(), settings):
        pass
    guild_path = f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"
    assert list(fake.commands) == [guild_path]
    assert len(fake.commands[guild_path]) == len(make_engine().commands()) + 1


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
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    answer = _long_answer()
    model = FakeModel(answer, chunk=97)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        mid = await fake.dm(9, "show me the code")

        def delivered() -> list[FakeMessage]:
            pages = fake.bot_messages()
            text = "".join(p.content for p in pages)
            return pages if pages and text.rstrip().endswith("return total\n```") else []

        pages = await fake.wait_for(delivered)
    assert len(pages) >= 3
    assert pages[0].reply_to == mid
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


async def test_dropped_gateway_resumes_and_answers_what_was_missed(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        await fake.drop_connection()
        # Sent while the bot is away: Discord replays it after RESUME.
        missed = await fake.dm(11, "are you there?")
        await fake.wait_for(lambda: fake.resumes == 1)
        first = await fake.wait_for(reply_to(fake, missed))
        after = await fake.dm(11, "still there?")
        second = await fake.wait_for(reply_to(fake, after))
        await fake.wait_for(lambda: second.content == "are you there? | still there?")
        # Discord may deliver an event twice: the engine's idempotency key drops it.
        await fake.dm(11, "are you there?", message_id=missed)
        third = await fake.dm(11, "last one")
        await fake.wait_for(reply_to(fake, third))
    assert fake.identifies == 1  # resumed, not a fresh session
    assert first.content == "are you there?"
    assert len(fake.bot_messages()) == 3


async def test_image_attachment_reaches_the_model(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel("a cat")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        image = fake.attachment(png, "cat.png", "image/png")
        mid = await fake.dm(12, "what is this?", attachments=(image,))
        await fake.wait_for(reply_to(fake, mid))
    turn = model.calls[0][1][-1]
    assert turn.text == "what is this?"
    assert [(i.data, i.mime_type) for i in turn.images] == [(png, "image/png")]


async def test_other_files_get_a_localised_answer_without_the_model(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel("never")
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        pdf = fake.attachment(b"%PDF-1.4", "doc.pdf", "application/pdf")
        mid = await fake.dm(13, "", attachments=(pdf,))
        answer = await fake.wait_for(reply_to(fake, mid))
    assert media_name("file", "en") in answer.content
    assert model.calls == []


async def test_empty_and_oversize_messages(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel("fine")
    engine = make_engine(model, max_input_chars=3000)
    async with running_bot(engine, discord_settings(fake, tmp_path)):
        empty = await fake.dm(14, "   ")
        big = await fake.dm(14, "x" * 5000)
        answer = await fake.wait_for(reply_to(fake, big))
        ok = await fake.dm(14, "normal")
        await fake.wait_for(reply_to(fake, ok))
    assert answer.content == t("too_long", "en", length=5000, limit=3000)
    assert reply_to(fake, empty)() is None
    assert fake.typing.get(5014, 0) == 2  # not even "typing…" for the empty message
    assert len(model.calls) == 1


async def test_a_broken_attachment_is_answered_not_fatal(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        gone = fake.attachment(b"", "gone.png", "image/png")
        fake.attachments.clear()  # the CDN answers 404
        mid = await fake.dm(15, "look", attachments=(gone,))
        answer = await fake.wait_for(reply_to(fake, mid))
        after = await fake.dm(15, "still alive?")
        second = await fake.wait_for(reply_to(fake, after))
        await fake.wait_for(lambda: second.content.endswith("still alive?"))
    assert answer.content == t("image_unreadable", "en")  # not "a file"
    assert model.calls and all(not turn.images for turn in model.calls[0][1])


async def test_an_expired_session_reconnects_with_a_fresh_identify(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    async with running_bot(make_engine(FakeModel("back")), discord_settings(fake, tmp_path)):
        fake.session_id = "expired"  # the RESUME will be refused with op 9
        await fake.drop_connection()
        await fake.wait_for(lambda: fake.identifies == 2)
        mid = await fake.dm(16, "hello again")
        answer = await fake.wait_for(reply_to(fake, mid))
        await fake.wait_for(lambda: answer.content == "back")
    assert fake.resumes == 0
