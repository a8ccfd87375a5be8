"""The engine on a real SQLite file with a scripted model: ordering, store, context, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from bot.ports import ModelBlocked, ModelError, ModelUnavailable
from bot.types import (
    Accepted,
    Done,
    Image,
    MediaKind,
    Outcome,
    RemoteImage,
    Turn,
    TurnKind,
)
from storage.sqlite import SqliteStore
from tests.conftest import MakeEngine, collect, command, events, msg
from tests.fakes.model import FakeModel


async def test_reply_streams_events_and_stores_both_turns(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = FakeModel("Hola, ¿qué tal? Soy tertulia.", chunk=5)
    engine = make_engine(model)
    got = await events(engine, msg("hola", message_id="m1"))
    accepted, *pieces, done = got
    assert isinstance(accepted, Accepted) and isinstance(done, Done)
    assert len(pieces) > 1 and "".join(str(p) for p in pieces) == "Hola, ¿qué tal? Soy tertulia."
    user = await store.find_user("test", "u1")
    assert user is not None
    history = await store.history(user.id)
    assert [(m.role, m.text, m.kind, m.outcome) for m in history] == [
        ("user", "hola", TurnKind.CHAT, Outcome.OK),
        ("assistant", "Hola, ¿qué tal? Soy tertulia.", TurnKind.CHAT, Outcome.OK),
    ]
    # Done names the stored exchange: the seam for buttons, regenerate and export.
    assert done.outcome is Outcome.OK and done.notice == ""
    assert done.ref is not None
    assert (done.ref.prompt_id, done.ref.reply_id) == (history[0].id, history[1].id)
    assert accepted.ref.prompt_id == history[0].id and accepted.ref.reply_id is None


async def test_a_reply_the_platform_never_took_is_never_context(make_engine: MakeEngine) -> None:
    model = FakeModel(lambda turns: f"answer {len(turns)}")
    engine = make_engine(model)
    first = await events(engine, msg("one"))
    done = first[-1]
    assert isinstance(done, Done) and done.ref is not None
    await engine.undelivered(done.ref)
    await collect(engine, msg("two"))
    assert [t.text for t in model.calls[-1][1]] == ["two"]


async def test_commands_and_rejections_end_with_done_and_never_call_the_model(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel("x")
    engine = make_engine(model, max_input_chars=10)
    help_events = await events(engine, command("/help"))
    assert isinstance(help_events[0], str) and help_events[0].startswith("Commands:")
    assert isinstance(help_events[-1], Done) and help_events[-1].outcome is Outcome.OK
    assert not any(isinstance(e, Accepted) for e in help_events)  # no "typing" for these
    long = await events(engine, msg("a" * 11))
    assert isinstance(long[-1], Done) and long[-1].ref is not None
    assert model.calls == []


async def test_user_turn_is_stored_before_the_model_is_called(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    seen: list[list[tuple[str, Outcome]]] = []

    class Checking(FakeModel):
        async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
            # Runs when the model is called, before it produces anything.
            user = await store.find_user("test", "u1")
            assert user is not None
            seen.append([(m.text, m.outcome) for m in await store.history(user.id)])
            async for piece in super().stream(system, turns):
                yield piece

    engine = make_engine(Checking("ok"))
    assert await collect(engine, msg("first words")) == "ok"
    assert seen == [[("first words", Outcome.PENDING)]]


async def test_in_order_keeps_arrival_order_across_work_before_the_reply(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel(lambda turns: "reply to " + turns[-1].text)
    engine = make_engine(model)

    async def handle(text: str, work: float) -> str:
        # A caller takes its place first, then does slow work before answering.
        async with engine.in_order(msg(text).key):
            await asyncio.sleep(work)
            return "".join([e async for e in engine.answer(msg(text)) if isinstance(e, str)])

    first = asyncio.create_task(handle("with image", 0.05))
    second = asyncio.create_task(handle("quick text", 0))
    assert list(await asyncio.gather(first, second)) == [
        "reply to with image",
        "reply to quick text",
    ]
    assert [turns[-1].text for _, turns in model.calls] == ["with image", "quick text"]


async def test_a_storage_failure_is_answered_not_silent(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    engine = make_engine(FakeModel("never"))
    await store.close()  # every query now fails
    got = await events(engine, msg("hola", language="es"))
    assert len(got) == 1 and isinstance(got[0], Done)
    assert got[0].outcome is Outcome.FAILED and got[0].notice.startswith("Algo falló por mi parte")


async def test_text_that_looks_like_a_command_is_a_question_unless_converted_as_one(
    make_engine: MakeEngine,
) -> None:
    # The engine never parses text: Discord's /ask prompt:/forget confirm is a question.
    model = FakeModel(lambda turns: "model saw " + turns[-1].text)
    engine = make_engine(model)
    assert await collect(engine, msg("/forget confirm")) == "model saw /forget confirm"
    assert "/forget confirm" in await collect(engine, command("/forget"))


async def test_context_carries_previous_turns_and_the_persona(make_engine: MakeEngine) -> None:
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


async def test_failed_and_blocked_turns_never_reach_context(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
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
    user = await store.find_user("test", "u1")
    assert user is not None
    outcomes = [(m.text, m.outcome) for m in await store.history(user.id)]
    assert ("a", Outcome.FAILED) in outcomes and ("b", Outcome.BLOCKED) in outcomes


async def test_model_error_is_localised_and_never_raises(make_engine: MakeEngine) -> None:
    model = FakeModel()
    model.queue = [ModelError("bad request"), RuntimeError("bug")]
    engine = make_engine(model)
    es = await collect(engine, msg("hola", language="es-ES"))
    assert es.startswith("Algo falló") and "bad request" in es
    assert "internal error" in await collect(engine, msg("again"))


async def test_token_budget_drops_oldest_turns_first(make_engine: MakeEngine) -> None:
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


async def test_messages_from_one_user_are_answered_in_order(make_engine: MakeEngine) -> None:
    model = FakeModel(lambda turns: "reply to " + turns[-1].text, chunk=2, delay=0.001)
    engine = make_engine(model)
    results = await asyncio.gather(*(collect(engine, msg(f"m{i}")) for i in range(5)))
    assert results == [f"reply to m{i}" for i in range(5)]
    _, last_turns = model.calls[-1]
    assert [t.text for t in last_turns if t.role == "user"] == [f"m{i}" for i in range(5)]


async def test_a_slow_user_never_blocks_another(make_engine: MakeEngine) -> None:
    release = asyncio.Event()

    class Slow(FakeModel):
        async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
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


async def test_users_and_chats_have_separate_memory(make_engine: MakeEngine) -> None:
    model = FakeModel(lambda turns: str(len(turns)))
    engine = make_engine(model)
    await collect(engine, msg("alice 1", user="alice"))
    await collect(engine, msg("bob 1", user="bob"))
    await collect(engine, msg("alice in other chat", user="alice", chat="c2"))
    await collect(engine, msg("alice 2", user="alice"))
    _, turns = model.calls[-1]
    assert [t.text for t in turns if t.role == "user"] == ["alice 1", "alice 2"]


async def test_duplicate_platform_message_is_answered_once(make_engine: MakeEngine) -> None:
    model = FakeModel("once")
    engine = make_engine(model)
    assert await collect(engine, msg("hi", message_id="42")) == "once"
    assert await collect(engine, msg("hi", message_id="42")) == ""
    assert await collect(engine, msg("hi", message_id="42", chat="other")) == "once"
    assert len(model.calls) == 2


async def test_empty_text_is_ignored_and_oversize_text_explained(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = FakeModel("x")
    engine = make_engine(model, max_input_chars=100)
    assert await collect(engine, msg("   \n ")) == ""
    answer = await collect(engine, msg("a" * 101, language="es"))
    assert "demasiado largo" in answer and "100" in answer
    assert model.calls == []
    user = await store.find_user("test", "u1")
    assert user is not None
    stored = await store.history(user.id)
    assert stored[0].text == "a" * 101 and stored[0].kind is TurnKind.REJECTED


async def test_unsupported_media_and_images_without_vision(make_engine: MakeEngine) -> None:
    engine = make_engine(FakeModel("x", accepts_images=False))
    sticker = await collect(engine, msg("", unsupported=MediaKind.STICKER, language="es"))
    assert "stickers" in sticker and sticker.startswith("Todavía")
    photo = await collect(engine, msg("what is this?", images=(Image(b"\xff\xd8"),)))
    assert "can't see images" in photo


async def test_a_photo_the_adapter_could_not_download_is_explained(make_engine: MakeEngine) -> None:
    engine = make_engine(FakeModel("x"))
    answer = await collect(engine, msg("", unsupported=MediaKind.PHOTO, language="es"))
    assert answer == "No pude abrir esa imagen. Vuelve a enviarla, por favor."


async def test_images_reach_a_model_that_reads_them(make_engine: MakeEngine) -> None:
    model = FakeModel("a cat")
    engine = make_engine(model)
    img = Image(b"\x89PNG", "image/png")
    assert await collect(engine, msg("", images=(img,))) == "a cat"
    _, turns = model.calls[-1]
    assert turns[-1].images == (img,)


async def test_images_still_on_the_platform_are_fetched_after_acceptance(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel("a cat")
    engine = make_engine(model)
    order: list[str] = []
    img = Image(b"\x89PNG", "image/png")

    async def fetch() -> Image:
        order.append("fetched")
        return img

    async for event in engine.reply(msg("", images=(RemoteImage(fetch),))):
        order.append(type(event).__name__)
    assert order[:2] == ["Accepted", "fetched"]  # "typing" shows while it downloads
    assert model.calls[-1][1][-1].images == (img,)


async def test_an_image_that_cannot_be_fetched_is_explained_without_the_model(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel("never")
    engine = make_engine(model)

    async def lost() -> None:
        return None

    got = await events(engine, msg("look", images=(RemoteImage(lost),), language="es"))
    done = got[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.FAILED
    assert done.notice == "No pude abrir esa imagen. Vuelve a enviarla, por favor."
    assert model.calls == []


async def test_stopping_at_acceptance_never_calls_the_model(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = FakeModel("never")
    engine = make_engine(model)
    async with aclosing(engine.reply(msg("go"))) as stream:
        async for event in stream:
            assert isinstance(event, Accepted)
            break
    assert model.calls == []
    user = await store.find_user("test", "u1")
    assert user is not None
    assert [m.outcome for m in await store.history(user.id)] == [Outcome.INTERRUPTED]


async def test_consumer_stopping_early_records_an_interrupted_turn(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    engine = make_engine(FakeModel("abcdefghij" * 10, chunk=5))
    async with aclosing(engine.reply(msg("go"))) as stream:
        async for event in stream:
            if isinstance(event, str):
                break
    user = await store.find_user("test", "u1")
    assert user is not None
    outcomes = [m.outcome for m in await store.history(user.id)]
    assert outcomes == [Outcome.INTERRUPTED, Outcome.INTERRUPTED]
    # The lock was released: the next message is answered.
    assert await collect(engine, msg("again")) == "abcdefghij" * 10


async def test_language_follows_hint_then_lang_command(make_engine: MakeEngine) -> None:
    engine = make_engine(FakeModel())
    assert (await collect(engine, command("/help", language="es-419"))).startswith("Comandos:")
    assert "English" in await collect(engine, command("/lang en", language="es"))
    assert (await collect(engine, command("/help", language="es"))).startswith("Commands:")
    assert await engine.language(msg("", language="es")) == "en"


async def test_what_was_said_in_an_earlier_conversation_is_recalled(
    make_engine: MakeEngine,
) -> None:
    model = FakeModel(lambda turns: f"re: {turns[-1].text}")
    engine = make_engine(model)
    await collect(engine, msg("Mi perro se llama Trufa y es un teckel"))
    await collect(engine, msg("Hoy llueve mucho"))
    await collect(engine, msg("Mi perro se llama Rayo", user="bob"))  # someone else's dog
    await collect(engine, command("/new"))
    await collect(engine, msg("¿Cómo se llama mi perro?"))
    system, turns = model.calls[-1]
    assert [t.text for t in turns] == ["¿Cómo se llama mi perro?"]  # a new conversation
    assert "They said: Mi perro se llama Trufa y es un teckel" in system
    assert "You answered: re: Mi perro se llama Trufa" in system
    assert "Rayo" not in system and "llueve" not in system
    # The conversation in progress is never recalled into its own prompt.
    await collect(engine, msg("Y mi perro, ¿qué raza es?"))
    system, turns = model.calls[-1]
    assert system.count("They said: Mi perro se llama Trufa") == 1
    assert "¿Cómo se llama mi perro?" not in system


async def test_a_private_chat_is_never_recalled_into_a_group(make_engine: MakeEngine) -> None:
    model = FakeModel(lambda turns: "ok")
    engine = make_engine(model)
    await collect(engine, msg("la clave del wifi es zanahoria42", chat="dm"))
    await collect(engine, msg("en el grupo hablamos de la clave del wifi", chat="g1"))
    await collect(engine, command("/new", chat="g1", is_direct=False))
    await collect(engine, msg("¿cuál era la clave del wifi?", chat="g1", is_direct=False))
    system, _ = model.calls[-1]
    assert "zanahoria42" not in system  # said in private
    assert "en el grupo hablamos" in system  # said in this group
    await collect(engine, command("/new", chat="dm"))
    await collect(engine, msg("¿cuál era la clave del wifi?", chat="dm"))
    assert "zanahoria42" in model.calls[-1][0]  # in private, all their own conversations
