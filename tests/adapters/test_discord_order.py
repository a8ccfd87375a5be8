"""The Discord adapter keeps each user's messages in order and never answers with silence."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.engine import Engine, Replier
from bot.i18n import t
from bot.types import IncomingMessage
from config.personas import load_personas
from storage.memory import SqliteMemory
from tests.adapters.discord_harness import GatedModel, discord_settings, running_bot
from tests.adapters.test_discord import answered, reply_to, user_texts
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.model import FakeModel


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_image_then_quick_text_reach_the_model_in_the_order_sent(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    fake.attachment_delay = 0.3  # the text arrives while the image is still downloading
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        image = fake.attachment(png, "cat.png", "image/png")
        first = await fake.dm(20, "what is this?", attachments=(image,))
        second = await fake.dm(20, "and is it cute?")
        await fake.wait_for(reply_to(fake, first))
        answer = await fake.wait_for(reply_to(fake, second))
        await fake.wait_for(lambda: answer.content.endswith("cute?"))
    first_turn = model.calls[0][1][-1]
    assert first_turn.text == "what is this?"
    assert [i.data for i in first_turn.images] == [png]
    assert answer.content == "what is this? | and is it cute?"


async def test_slash_waits_its_turn_but_is_acknowledged_at_once(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = GatedModel("Thinking", " done.")
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        mid = await fake.dm(21, "a long question")
        first = await fake.wait_for(reply_to(fake, mid))
        ask = await fake.slash("ask", {"prompt": "a follow-up"}, user_id=21, channel_id=5021)
        # Deferred while the first reply still streams: Discord's 3 s are not spent waiting.
        await fake.wait_for(lambda: ask.callback_type == 5)
        assert len(model.calls) == 1
        model.gate.set()
        await fake.wait_for(lambda: first.content == "Thinking done.")
        second = await fake.wait_for(answered(fake, ask))
        await fake.wait_for(lambda: second.content == "Thinking done.")
    assert [user_texts(turns).split(" | ")[-1] for _, turns in model.calls] == [
        "a long question",
        "a follow-up",
    ]


async def test_ask_with_a_slash_prompt_is_a_question_not_a_command(
    fake: FakeDiscord, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    model = FakeModel(user_texts)
    async with running_bot(make_engine(model), discord_settings(fake, tmp_path)):
        ask = await fake.slash("ask", {"prompt": "/forget confirm"}, user_id=22)
        answer = await fake.wait_for(answered(fake, ask))
    assert answer.content == "/forget confirm"  # the model's echo, not /forget's answer
    assert not ask.ephemeral
    assert len(model.calls) == 1


class BrokenEngine(Engine):
    """An engine whose reply stream raises before any text: a bug the adapter must survive."""

    @asynccontextmanager
    async def in_order(self, msg: IncomingMessage) -> AsyncIterator[Replier]:
        async def broken(msg: IncomingMessage) -> AsyncGenerator[str, None]:
            raise RuntimeError("a bug")
            yield ""  # pragma: no cover

        yield broken


async def test_a_reply_that_raises_is_answered_with_a_localised_error(
    fake: FakeDiscord, memory: SqliteMemory, tmp_path: Path
) -> None:
    engine = BrokenEngine(memory, FakeModel(), personas=load_personas())
    async with running_bot(engine, discord_settings(fake, tmp_path)):
        mid = await fake.dm(23, "hello?")
        answer = await fake.wait_for(reply_to(fake, mid))
        ask = await fake.slash("ask", {"prompt": "hola"}, user_id=24, locale="es-ES")
        spanish = await fake.wait_for(answered(fake, ask))
    assert answer.content == t("internal_error", "en")
    assert spanish.content == t("internal_error", "es")  # not "thinking…" deleted
