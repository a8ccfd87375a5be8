"""Random operations by many people: nobody ever reads another's text, and reads match a model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ports import MemoryStore
from bot.types import Outcome, Role, TurnKind, TurnRef
from storage.sqlite import SqliteStore
from tests.stores.conftest import STORES, key, play

PEOPLE = ("ann", "bob", "cy")
CHATS = ("c1", "c2")


@dataclass(frozen=True, slots=True)
class Ingest:
    person: str
    chat: str
    kind: TurnKind
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Complete:
    pick: int  # which unanswered exchange, modulo how many there are
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Settle:
    pick: int
    outcome: Outcome
    answered: bool  # pick among exchanges with a reply (the engine's "undelivered")


@dataclass(frozen=True, slots=True)
class NewConversation:
    person: str
    chat: str


@dataclass(frozen=True, slots=True)
class Forget:
    person: str


Op = Ingest | Complete | Settle | NewConversation | Forget

outcomes = st.one_of(st.just(Outcome.OK), st.sampled_from(list(Outcome)))
ingests = st.builds(
    Ingest,
    st.sampled_from(PEOPLE),
    st.sampled_from(CHATS),
    st.sampled_from([TurnKind.CHAT] * 3 + [TurnKind.COMMAND, TurnKind.REJECTED]),
    st.one_of(st.none(), st.sampled_from(["1", "2", "3"])),
)
# Weighted towards what the engine does most (a turn, its answer), so that a typical run
# builds up exchanges for settle, /new and /forget to act on.
operations = st.lists(
    st.one_of(
        ingests,
        ingests,
        st.builds(Complete, st.integers(0, 20), outcomes),
        st.builds(Complete, st.integers(0, 20), outcomes),
        st.builds(Settle, st.integers(0, 20), outcomes, st.booleans()),
        st.builds(NewConversation, st.sampled_from(PEOPLE), st.sampled_from(CHATS)),
        st.builds(Forget, st.sampled_from(PEOPLE)),
    ),
    max_size=40,
)


@dataclass(slots=True)
class Row:
    """A stored message as the model expects it."""

    role: Role
    text: str
    kind: TurnKind
    outcome: Outcome
    tokens: int


@dataclass(slots=True)
class Exchange:
    owner: str
    ref: TurnRef
    prompt: Row
    reply: Row | None = None
    erased: bool = False  # its owner was forgotten since: the ref must reach nobody


@dataclass(slots=True)
class Person:
    """What one person's reads must show: their rows, in the order they were stored."""

    id: int | None = None
    active: dict[str, int] = field(default_factory=dict)  # chat -> conversation id
    rows: dict[int, list[Row]] = field(default_factory=dict)  # conversation id -> rows
    seen: set[tuple[str, str]] = field(default_factory=set)  # (chat, platform message id)
    order: list[Row] = field(default_factory=list)  # every row, oldest first


class World:
    """Runs the operations against a store and an in-memory model side by side."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.people = {name: Person() for name in PEOPLE}
        self.exchanges: list[Exchange] = []
        self.issued: set[int] = set()  # every user id ever handed out
        self.said = 0

    async def run(self, op: Op) -> None:
        if isinstance(op, Ingest):
            await self.ingest(op)
        elif isinstance(op, Complete | Settle):
            await self.finish(op)
        elif isinstance(op, NewConversation):
            await self.new_conversation(op)
        else:
            await self.forget(op)

    async def ingest(self, op: Ingest) -> None:
        person = self.people[op.person]
        self.said += 1
        text = f"{op.person}:{self.said}"  # the owner's tag
        got = await self.store.ingest(
            key(op.person, op.chat),
            display_name=op.person,
            platform_message_id=op.message_id,
            text=text,
            kind=op.kind,
            tokens=self.said,
        )
        if op.message_id is not None and (op.chat, op.message_id) in person.seen:
            assert got is None
            return
        assert got is not None
        if person.id is None:
            # Never an erased person's id either: their late replies would land here.
            assert got.user.id not in self.issued
            self.issued.add(got.user.id)
            person.id = got.user.id
        assert got.user.id == got.ref.user_id == person.id
        conversation = person.active.setdefault(op.chat, got.ref.conversation_id)
        assert got.ref.conversation_id == conversation
        if op.message_id is not None:
            person.seen.add((op.chat, op.message_id))
        row = Row("user", text, op.kind, Outcome.PENDING, self.said)
        self.store_row(person, conversation, row)
        self.exchanges.append(Exchange(op.person, got.ref, row))

    async def finish(self, op: Complete | Settle) -> None:
        if isinstance(op, Settle):
            answered = [e for e in self.exchanges if e.reply is not None]
            candidates = answered if op.answered and answered else self.exchanges
        else:
            candidates = [e for e in self.exchanges if e.reply is None]
        if not candidates:
            return
        chosen = candidates[op.pick % len(candidates)]
        if chosen.erased:
            # A reply finishing after /forget: it must not land with whoever came next.
            if isinstance(op, Settle):
                await self.store.settle(chosen.ref, op.outcome)
            else:
                late = await self.store.complete(
                    chosen.ref,
                    reply="late",
                    outcome=op.outcome,
                    tokens=0,
                    first_token_ms=None,
                    latency_ms=1,
                )
                assert late.reply_id is None
            return
        if isinstance(op, Settle):
            await self.store.settle(chosen.ref, op.outcome)
        else:
            self.said += 1
            text = f"{chosen.owner}:{self.said}"
            chosen.ref = await self.store.complete(
                chosen.ref,
                reply=text,
                outcome=op.outcome,
                tokens=self.said,
                first_token_ms=None,
                latency_ms=1,
            )
            assert chosen.ref.reply_id is not None
            chosen.reply = Row("assistant", text, chosen.prompt.kind, op.outcome, self.said)
            person = self.people[chosen.owner]
            self.store_row(person, chosen.ref.conversation_id, chosen.reply)
        for row in (chosen.prompt, chosen.reply):
            if row is not None:
                row.outcome = op.outcome

    async def new_conversation(self, op: NewConversation) -> None:
        person = self.people[op.person]
        if person.id is None:
            return
        conversation = await self.store.new_conversation(person.id, op.chat)
        assert conversation not in {c for p in self.people.values() for c in p.rows}
        person.active[op.chat] = conversation
        person.rows[conversation] = []

    async def forget(self, op: Forget) -> None:
        person = self.people[op.person]
        if person.id is None:
            return
        assert await self.store.forget(person.id) == len(person.order)
        assert await self.store.find_user("test", op.person) is None
        self.people[op.person] = Person()
        for exchange in self.exchanges:
            exchange.erased |= exchange.owner == op.person

    @staticmethod
    def store_row(person: Person, conversation: int, row: Row) -> None:
        person.rows.setdefault(conversation, []).append(row)
        person.order.append(row)

    async def check(self) -> None:
        """Every read of every person shows exactly their model rows, all tagged as theirs."""
        await self.store.index_pending()  # what the background does twice a second
        everyone = {c for p in self.people.values() for c in p.rows}
        for name, person in self.people.items():
            if person.id is None:
                continue
            # Someone else's conversation asked for with this person's id: nothing at all.
            for conversation in everyone - person.rows.keys():
                assert await self.store.window(person.id, conversation) == []
            for conversation, rows in person.rows.items():
                window = await self.store.window(person.id, conversation)
                assert all(t.text.startswith(f"{name}:") for t in window)
                expected = [
                    (r.role, r.text, r.tokens)
                    for r in reversed(rows)
                    if r.kind is TurnKind.CHAT and r.outcome is Outcome.OK
                ]
                assert [(t.role, t.text, t.tokens) for t in window] == expected
            # Recall by words finds every answered chat turn of this person, and only theirs
            # (each text holds its owner's name and a number).
            words = [*PEOPLE, *(str(n) for n in range(1, self.said + 1))]
            found = await self.store.recall(person.id, words, exclude_conversation=-1, limit=9999)
            assert {(h.role, h.text) for h in found} == {
                (r.role, r.text)
                for rows in person.rows.values()
                for r in rows
                if r.kind is TurnKind.CHAT and r.outcome is Outcome.OK
            }
            assert all(h.partner is None or h.partner.startswith(f"{name}:") for h in found)
            if isinstance(self.store, SqliteStore):
                history = await self.store.history(person.id, limit=1000)
                assert all(m.text.startswith(f"{name}:") for m in history)
                assert [(m.role, m.text, m.kind, m.outcome) for m in history] == [
                    (r.role, r.text, r.kind, r.outcome) for r in person.order
                ]
        live = [p for p in self.people.values() if p.id is not None]
        assert await self.store.stats() == {
            "users": len(live),
            "conversations": sum(len(p.rows) for p in live),
            "messages": sum(len(p.order) for p in live),
        }


@pytest.mark.parametrize("name", list(STORES))
@settings(max_examples=30, deadline=None)
@given(ops=operations)
def test_nobody_reads_anothers_text_and_reads_match_the_model(name: str, ops: list[Op]) -> None:
    asyncio.run(play(name, World, ops))
