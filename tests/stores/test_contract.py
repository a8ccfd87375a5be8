"""The MemoryStore contract, through the port only: every store must pass all of it."""

from __future__ import annotations

from bot.ports import MemoryStore
from bot.types import Outcome, StoredTurn, TurnKind, TurnRef, User
from tests.stores.conftest import key, said


async def answer(store: MemoryStore, ref: TurnRef, reply: str, outcome: Outcome) -> TurnRef:
    return await store.complete(
        ref, reply=reply, outcome=outcome, tokens=2, first_token_ms=5, latency_ms=9
    )


async def exchange(store: MemoryStore, text: str, user: str = "ann", chat: str = "c1") -> TurnRef:
    """`user` said `text` and got an ok answer, "re: `text`"."""
    asked = await said(store, text, user, chat)
    return await answer(store, asked.ref, f"re: {text}", Outcome.OK)


def texts(turns: list[StoredTurn]) -> list[str]:
    return [t.text for t in turns]


async def test_ingest_stores_the_turn_and_returns_who_and_where(store: MemoryStore) -> None:
    first = await said(store, "hola")
    assert (first.user.platform, first.user.platform_user_id) == ("test", "ann")
    assert (first.user.lang, first.user.persona) == (None, None)
    assert first.ref.user_id == first.user.id and first.ref.reply_id is None
    again = await said(store, "¿sigues?")
    assert again.user == first.user
    assert again.ref.conversation_id == first.ref.conversation_id
    assert again.ref.prompt_id != first.ref.prompt_id
    # Another chat is another conversation; the same id on another platform is another person.
    elsewhere = await said(store, "x", chat="c2")
    assert elsewhere.user == first.user
    assert elsewhere.ref.conversation_id != first.ref.conversation_id
    other = await store.ingest(
        key("ann", platform="other"),
        display_name="Ann",
        platform_message_id=None,
        text="x",
        kind=TurnKind.CHAT,
    )
    assert other is not None and other.user.id != first.user.id


async def test_a_redelivered_platform_message_is_stored_once(store: MemoryStore) -> None:
    await said(store, "hi", message_id="7")
    repeat = await store.ingest(
        key(), display_name="Ann", platform_message_id="7", text="hi", kind=TurnKind.CHAT
    )
    assert repeat is None
    # The key is per person and chat; a message without an id is never a repeat.
    await said(store, "hi", chat="c2", message_id="7")
    await said(store, "hi", user="bob", message_id="7")
    await said(store, "hi")
    await said(store, "hi")
    assert (await store.stats())["messages"] == 5


async def test_the_window_holds_only_answered_chat_newest_first(store: MemoryStore) -> None:
    ref = await exchange(store, "one")
    await exchange(store, "two")
    await said(store, "still pending")
    for outcome in (Outcome.FAILED, Outcome.BLOCKED, Outcome.INTERRUPTED):
        asked = await said(store, f"{outcome} question")
        await answer(store, asked.ref, f"{outcome} answer", outcome)
    for kind in (TurnKind.COMMAND, TurnKind.REJECTED):
        settled = await said(store, f"a {kind}", kind=kind)
        await store.settle(settled.ref, Outcome.OK)
    window = await store.window(ref.user_id, ref.conversation_id)
    assert texts(window) == ["re: two", "two", "re: one", "one"]
    assert [t.role for t in window] == ["assistant", "user"] * 2
    assert [t.tokens for t in window] == [2, 1, 2, 1]
    limited = await store.window(ref.user_id, ref.conversation_id, max_turns=3)
    assert texts(limited) == ["re: two", "two", "re: one"]


async def test_the_window_is_scoped_to_one_person_and_conversation(store: MemoryStore) -> None:
    ann = await exchange(store, "ann's secret")
    bob = await exchange(store, "bob's secret", user="bob")
    other_chat = await exchange(store, "ann elsewhere", chat="c2")
    assert texts(await store.window(ann.user_id, ann.conversation_id)) == [
        "re: ann's secret",
        "ann's secret",
    ]
    # Bob's conversation asked for with Ann's id, and the other way round: nothing.
    assert await store.window(ann.user_id, bob.conversation_id) == []
    assert await store.window(bob.user_id, ann.conversation_id) == []
    assert texts(await store.window(ann.user_id, other_chat.conversation_id)) == [
        "re: ann elsewhere",
        "ann elsewhere",
    ]


async def test_complete_returns_the_reply_and_gives_the_turn_its_outcome(
    store: MemoryStore,
) -> None:
    asked = await said(store, "q")
    done = await answer(store, asked.ref, "a", Outcome.OK)
    assert done.reply_id is not None and done.reply_id != asked.ref.prompt_id
    assert (done.user_id, done.conversation_id, done.prompt_id) == (
        asked.ref.user_id,
        asked.ref.conversation_id,
        asked.ref.prompt_id,
    )
    failed = await said(store, "q2")
    await answer(store, failed.ref, "partial", Outcome.FAILED)
    # The failed question went with its answer: only the ok pair is context.
    assert texts(await store.window(done.user_id, done.conversation_id)) == ["a", "q"]


async def test_settle_changes_both_turns_of_an_exchange(store: MemoryStore) -> None:
    kept = await exchange(store, "kept")
    lost = await exchange(store, "lost")
    await store.settle(lost, Outcome.UNDELIVERED)
    assert texts(await store.window(lost.user_id, lost.conversation_id)) == ["re: kept", "kept"]
    await store.settle(lost, Outcome.OK)
    assert len(await store.window(kept.user_id, kept.conversation_id)) == 4
    # Without a reply only the user's turn changes.
    alone = await said(store, "no reply")
    await store.settle(alone.ref, Outcome.OK)
    assert texts(await store.window(kept.user_id, kept.conversation_id))[0] == "no reply"


async def test_settle_with_another_persons_id_changes_nothing(store: MemoryStore) -> None:
    ann = await said(store, "ann's turn")
    bob = await said(store, "bob's turn", user="bob")
    forged = TurnRef(bob.user.id, ann.ref.conversation_id, ann.ref.prompt_id)
    await store.settle(forged, Outcome.OK)
    assert await store.window(ann.user.id, ann.ref.conversation_id) == []


async def test_new_conversation_starts_empty_and_keeps_the_old_one(store: MemoryStore) -> None:
    old = await exchange(store, "before")
    there = await exchange(store, "other chat", chat="c2")
    new_id = await store.new_conversation(old.user_id, "c1")
    assert new_id not in (old.conversation_id, there.conversation_id)
    assert await store.window(old.user_id, new_id) == []
    after = await said(store, "after")
    assert after.ref.conversation_id == new_id
    assert texts(await store.window(old.user_id, old.conversation_id)) == ["re: before", "before"]
    # Only that chat moved on.
    assert (await said(store, "still", chat="c2")).ref.conversation_id == there.conversation_id


async def test_choices_are_kept_per_person(store: MemoryStore) -> None:
    ann = (await said(store, "x")).user
    bob = (await said(store, "x", user="bob")).user
    await store.set_lang(ann.id, "es")
    await store.set_persona(ann.id, "pirate")
    found = await store.find_user("test", "ann")
    assert found is not None and (found.id, found.lang, found.persona) == (ann.id, "es", "pirate")
    assert (await said(store, "y")).user == found  # ingest hands the choices back too
    await store.set_lang(ann.id, None)
    assert await store.find_user("test", "ann") == User(ann.id, "test", "ann", None, "pirate")
    assert await store.find_user("test", "bob") == bob
    assert await store.find_user("test", "nobody") is None


async def test_forget_erases_the_person_and_nothing_else(store: MemoryStore) -> None:
    ann = await exchange(store, "ann 1")
    await store.set_lang(ann.user_id, "es")
    second = await store.new_conversation(ann.user_id, "c1")
    await exchange(store, "ann 2")
    await said(store, "ann 3", chat="c2")
    bob = await exchange(store, "bob's", user="bob")
    assert await store.forget(ann.user_id) == 5
    assert await store.find_user("test", "ann") is None
    assert await store.window(ann.user_id, ann.conversation_id) == []
    assert await store.window(ann.user_id, second) == []
    assert await store.stats() == {"users": 1, "conversations": 1, "messages": 2}
    assert texts(await store.window(bob.user_id, bob.conversation_id)) == ["re: bob's", "bob's"]
    # Coming back is starting over: no old choices, no old context.
    back = await said(store, "hello again")
    assert back.user.lang is None
    assert await store.window(back.user.id, back.ref.conversation_id) == []
    assert await store.forget(back.user.id) == 1


async def test_a_reply_to_an_erased_turn_is_not_stored(store: MemoryStore) -> None:
    asked = await said(store, "q")
    await store.forget(asked.user.id)
    late = await answer(store, asked.ref, "a", Outcome.OK)
    assert late.reply_id is None
    assert (await store.stats())["messages"] == 0


async def test_stats_count_everyone(store: MemoryStore) -> None:
    assert await store.stats() == {"users": 0, "conversations": 0, "messages": 0}
    ann = await exchange(store, "x")
    await exchange(store, "y", user="bob")
    await store.new_conversation(ann.user_id, "c1")
    assert await store.stats() == {"users": 2, "conversations": 3, "messages": 4}


async def test_an_erased_persons_ref_never_reaches_the_next_newcomer(store: MemoryStore) -> None:
    # Ann is erased while her reply is still being written; Bob arrives just then.
    ann = await said(store, "ann's question", user="ann")
    await store.forget(ann.user.id)
    bob = await said(store, "bob's question", user="bob")
    assert bob.user.id != ann.user.id
    late = await answer(store, ann.ref, "ann's private answer", Outcome.OK)
    assert late.reply_id is None
    await store.settle(ann.ref, Outcome.OK)
    assert await store.window(bob.user.id, bob.ref.conversation_id) == []
    assert (await store.stats())["messages"] == 1


async def test_recall_finds_earlier_conversations_by_words_accents_folded(
    store: MemoryStore,
) -> None:
    dog = await exchange(store, "Mi perro se llama Trufa y le encanta una canción")
    await exchange(store, "Tengo que regar las plantas")
    current = await store.new_conversation(dog.user_id, "c1")
    said_then = "Mi perro se llama Trufa y le encanta una canción"
    found = await store.recall(dog.user_id, ["cancion", "perro"], exclude_conversation=current)
    assert {(h.role, h.text, h.partner) for h in found} == {
        ("user", said_then, f"re: {said_then}"),
        ("assistant", f"re: {said_then}", said_then),
    }
    assert all("plantas" not in h.text for h in found)
    # The conversation in progress is the window's business, not recall's.
    assert (
        await store.recall(dog.user_id, ["perro"], exclude_conversation=dog.conversation_id) == []
    )
    # Words are data, never FTS syntax.
    assert await store.recall(dog.user_id, ['"', "NEAR(", "*"], exclude_conversation=current) == []


async def test_recall_skips_failed_and_command_turns_and_other_people(store: MemoryStore) -> None:
    failed = await said(store, "el perro falló")
    await answer(store, failed.ref, "", Outcome.FAILED)
    await said(store, "/persona perro", kind=TurnKind.COMMAND)
    bob = await exchange(store, "el perro de bob", user="bob")
    ann = (await said(store, "hola")).user
    assert await store.index_pending() > 0  # as the background would within half a second
    assert await store.recall(ann.id, ["perro"], exclude_conversation=-1) == []
    found = await store.recall(bob.user_id, ["perro"], exclude_conversation=-1)
    assert {h.text for h in found} == {"el perro de bob", "re: el perro de bob"}


async def test_an_erased_person_is_not_recalled(store: MemoryStore) -> None:
    ref = await exchange(store, "mi número secreto es 4242")
    await store.forget(ref.user_id)
    again = await said(store, "hola")
    assert await store.recall(again.user.id, ["secreto", "4242"], exclude_conversation=-1) == []
    assert await store.recall(ref.user_id, ["secreto", "4242"], exclude_conversation=-1) == []


async def test_a_long_conversation_on_the_same_words_does_not_crowd_out_older_ones(
    store: MemoryStore,
) -> None:
    old = await exchange(store, "mi perro Trufa odia la lluvia")
    await store.new_conversation(old.user_id, "c1")
    for n in range(60):  # the conversation in progress talks about the dog all along
        now = await exchange(store, f"el perro otra vez, vuelta {n}")
    found = await store.recall(old.user_id, ["perro"], exclude_conversation=now.conversation_id)
    assert {h.text for h in found} == {
        "mi perro Trufa odia la lluvia",
        "re: mi perro Trufa odia la lluvia",
    }
