"""The engine on a real SQLite file with a scripted model: ordering, memory, context, errors."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

from bot.models import ModelBlocked, ModelError, ModelUnavailable
from bot.types import Image, IncomingMessage
from tests.conftest import collect
from tests.fakes.model import FakeModel


def msg(text: str, user: str = "u1", chat: str = "c1", **kw: object) -> IncomingMessage:
    return IncomingMessage(platform="test", user_id=user, chat_id=chat, text=text, **kw)  # type: ignore[arg-type]


async def test_reply_streams_and_stores_both_turns(make_engine, memory):
    model = FakeModel("Hola, ¿qué tal? Soy tertulia.", chunk=5)
    engine = make_engine(model)
    pieces = [p async for p in engine.reply(msg("hola", message_id="m1"))]
    assert len(pieces) > 1
    assert "".join(pieces) == "Hola, ¿qué tal? Soy tertulia."
    user = await memory.find_user("test", "u1")
    history = await memory.history(user.id)
    assert [(m.role, m.text, m.status) for m in history] == [
        ("user", "hola", "ok"),
        ("assistant", "Hola, ¿qué tal? Soy tertulia.", "ok"),
    ]


async def test_user_turn_is_stored_before_the_model_is_called(make_engine, memory):
    seen: list[list[tuple[str, str]]] = []

    class Checking(FakeModel):
        async def stream(self, system, turns):
            # Runs when the model is called, before it produces anything.
            user = await memory.find_user("test", "u1")
            seen.append([(m.text, m.status) for m in await memory.history(user.id)])
            async for piece in super().stream(system, turns):
                yield piece

    engine = make_engine(Checking("ok"))
    assert await collect(engine, msg("first words")) == "ok"
    assert seen == [[("first words", "pending")]]


async def test_in_order_keeps_arrival_order_across_work_before_the_reply(make_engine):
    model = FakeModel(lambda turns: "reply to " + turns[-1].text)
    engine = make_engine(model)

    async def handle(text: str, download: float) -> str:
        # An adapter takes its place first, then does slow work (an image download).
        async with engine.in_order(msg(text)) as reply:
            await asyncio.sleep(download)
            return "".join([p async for p in reply(msg(text))])

    first = asyncio.create_task(handle("with image", 0.05))
    second = asyncio.create_task(handle("quick text", 0))
    assert await asyncio.gather(first, second) == ["reply to with image", "reply to quick text"]
    assert [turns[-1].text for _, turns in model.calls] == ["with image", "quick text"]


async def test_a_storage_failure_is_answered_not_silent(make_engine, memory):
    engine = make_engine(FakeModel("never"))
    await memory.close()  # every query now fails
    answer = await collect(engine, msg("hola", language="es"))
    assert answer.startswith("Algo falló por mi parte")


async def test_text_that_must_not_run_a_command_reaches_the_model(make_engine):
    model = FakeModel(lambda turns: "model saw " + turns[-1].text)
    engine = make_engine(model)
    answer = await collect(engine, msg("/forget confirm", allow_commands=False))
    assert answer == "model saw /forget confirm"


async def test_context_carries_previous_turns_and_the_persona(make_engine):
    model = FakeModel(lambda turns: f"answer {len(turns)}")
    engine = make_engine(model)
    await collect(engine, msg("one"))
    await collect(engine, msg("two"))
    system, turns = model.calls[-1]
    assert [(t.role, t.text) for t in turns] == [
        ("user", "one"),
        ("assistant", "answer 1"),
        ("user", "two"),
    ]
    assert "tertulia" in system


async def test_failed_and_blocked_turns_never_reach_context(make_engine, memory):
    model = FakeModel("fine")
    model.queue = [ModelUnavailable("down"), ModelBlocked("safety")]
    engine = make_engine(model)
    unavailable = await collect(engine, msg("a"))
    blocked = await collect(engine, msg("b"))
    assert "try again" in unavailable
    assert "safety" in blocked
    await collect(engine, msg("c"))
    _, turns = model.calls[-1]
    assert [t.text for t in turns] == ["c"]
    user = await memory.find_user("test", "u1")
    statuses = [(m.text, m.status) for m in await memory.history(user.id)]
    assert ("a", "failed") in statuses and ("b", "blocked") in statuses


async def test_model_error_is_localised_and_never_raises(make_engine):
    model = FakeModel()
    model.queue = [ModelError("bad request"), RuntimeError("bug")]
    engine = make_engine(model)
    es = await collect(engine, msg("hola", language="es-ES"))
    assert es.startswith("Algo falló") and "bad request" in es
    assert "internal error" in await collect(engine, msg("again"))


async def test_token_budget_drops_oldest_turns_first(make_engine):
    model = FakeModel("x" * 40)  # 11 tokens per answer
    engine = make_engine(model, context_tokens=400)
    for i in range(30):
        await collect(engine, msg(f"question number {i} " + "y" * 40))
    _, turns = model.calls[-1]
    texts = [t.text for t in turns]
    assert texts[-1].startswith("question number 29")
    assert not any(t.startswith("question number 0 ") for t in texts)
    assert turns[0].role == "user"
    used = sum(model.estimate_tokens(t.text) for t in turns)
    assert used <= 400 and len(turns) < 59


async def test_messages_from_one_user_are_answered_in_order(make_engine):
    model = FakeModel(lambda turns: "reply to " + turns[-1].text, chunk=2, delay=0.001)
    engine = make_engine(model)
    results = await asyncio.gather(*(collect(engine, msg(f"m{i}")) for i in range(5)))
    assert results == [f"reply to m{i}" for i in range(5)]
    _, last_turns = model.calls[-1]
    assert [t.text for t in last_turns if t.role == "user"] == [f"m{i}" for i in range(5)]


async def test_a_slow_user_never_blocks_another(make_engine):
    release = asyncio.Event()

    class Slow(FakeModel):
        async def stream(self, system, turns):
            if turns[-1].text == "slow":
                await release.wait()
            async for piece in super().stream(system, turns):
                yield piece

    engine = make_engine(Slow("done"))
    slow = asyncio.create_task(collect(engine, msg("slow", user="a")))
    fast = await asyncio.wait_for(collect(engine, msg("fast", user="b")), 5)
    assert fast == "done" and not slow.done()
    release.set()
    assert await slow == "done"


async def test_users_and_chats_have_separate_memory(make_engine):
    model = FakeModel(lambda turns: str(len(turns)))
    engine = make_engine(model)
    await collect(engine, msg("alice 1", user="alice"))
    await collect(engine, msg("bob 1", user="bob"))
    await collect(engine, msg("alice in other chat", user="alice", chat="c2"))
    await collect(engine, msg("alice 2", user="alice"))
    _, turns = model.calls[-1]
    assert [t.text for t in turns if t.role == "user"] == ["alice 1", "alice 2"]


async def test_duplicate_platform_message_is_answered_once(make_engine):
    model = FakeModel("once")
    engine = make_engine(model)
    assert await collect(engine, msg("hi", message_id="42")) == "once"
    assert await collect(engine, msg("hi", message_id="42")) == ""
    assert await collect(engine, msg("hi", message_id="42", chat="other")) == "once"
    assert len(model.calls) == 2


async def test_empty_text_is_ignored_and_oversize_text_explained(make_engine, memory):
    model = FakeModel("x")
    engine = make_engine(model, max_input_chars=100)
    assert await collect(engine, msg("   \n ")) == ""
    answer = await collect(engine, msg("a" * 101, language="es"))
    assert "demasiado largo" in answer and "100" in answer
    assert model.calls == []
    user = await memory.find_user("test", "u1")
    stored = await memory.history(user.id)
    assert stored[0].text == "a" * 101 and stored[0].status == "rejected"


async def test_unsupported_media_and_images_without_vision(make_engine):
    engine = make_engine(FakeModel("x", accepts_images=False))
    sticker = await collect(engine, msg("", unsupported="sticker", language="es"))
    assert "stickers" in sticker and sticker.startswith("Todavía")
    photo = await collect(engine, msg("what is this?", images=(Image(b"\xff\xd8"),)))
    assert "can't see images" in photo


async def test_a_photo_the_adapter_could_not_download_is_explained(make_engine):
    engine = make_engine(FakeModel("x"))
    answer = await collect(engine, msg("", unsupported="photo", language="es"))
    assert answer == "No pude abrir esa imagen. Vuelve a enviarla, por favor."


async def test_images_reach_a_model_that_reads_them(make_engine):
    model = FakeModel("a cat")
    engine = make_engine(model)
    img = Image(b"\x89PNG", "image/png")
    assert await collect(engine, msg("", images=(img,))) == "a cat"
    _, turns = model.calls[-1]
    assert turns[-1].images == (img,)


async def test_consumer_stopping_early_records_an_interrupted_turn(make_engine, memory):
    engine = make_engine(FakeModel("abcdefghij" * 10, chunk=5))
    async with aclosing(engine.reply(msg("go"))) as pieces:
        async for _ in pieces:
            break
    user = await memory.find_user("test", "u1")
    assert [m.status for m in await memory.history(user.id)] == ["interrupted", "interrupted"]
    # The lock was released: the next message is answered.
    assert await collect(engine, msg("again")) == "abcdefghij" * 10


async def test_language_follows_hint_then_lang_command(make_engine):
    engine = make_engine(FakeModel())
    assert (await collect(engine, msg("/help", language="es-419"))).startswith("Comandos:")
    assert "English" in await collect(engine, msg("/lang en", language="es"))
    assert (await collect(engine, msg("/help", language="es"))).startswith("Commands:")
    assert await engine.language(msg("", language="es")) == "en"
