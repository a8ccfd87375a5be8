"""Random talk, facts, links, unlinks and erasures: nobody's memory ever reaches another person."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.memory_commands import code_hash
from bot.ports import MemoryStore
from bot.types import LinkOutcome, Outcome, TurnKind
from tests.stores.conftest import STORES, key, play

PEOPLE = ("ann", "bob", "cy", "dee")
CHATS = ("c1", "c2")


@dataclass(frozen=True, slots=True)
class Say:
    person: str
    chat: str


@dataclass(frozen=True, slots=True)
class Remember:
    person: str
    chat: str


@dataclass(frozen=True, slots=True)
class Link:
    issuer: str
    redeemer: str


@dataclass(frozen=True, slots=True)
class Unlink:
    person: str


@dataclass(frozen=True, slots=True)
class Drop:
    person: str  # who asks
    pick: int  # among every fact ever kept, anyone's


@dataclass(frozen=True, slots=True)
class Forget:
    person: str


Op = Say | Remember | Link | Unlink | Drop | Forget

people = st.sampled_from(PEOPLE)
operations = st.lists(
    st.one_of(
        st.builds(Say, people, st.sampled_from(CHATS)),
        st.builds(Say, people, st.sampled_from(CHATS)),
        st.builds(Remember, people, st.sampled_from(CHATS)),
        st.builds(Link, people, people),
        st.builds(Link, people, people),
        st.builds(Unlink, people),
        st.builds(Drop, people, st.integers(0, 30)),
        st.builds(Forget, people),
    ),
    max_size=30,
)


@dataclass(slots=True)
class Person:
    id: int | None = None
    said: set[str] = field(default_factory=set)  # their turns and the replies to them
    facts: dict[int, str] = field(default_factory=dict)  # fact id -> text


class World:
    """The store and a model of it side by side: who is linked with whom, who said what."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.people = {name: Person() for name in PEOPLE}
        self.group = {name: {name} for name in PEOPLE}  # each person's linked set
        self.facts: list[int] = []  # every fact id ever kept
        self.said_ever: list[str] = []  # every text anyone said, oldest first
        self.n = 0

    def tag(self, person: str) -> str:
        self.n += 1
        return f"{person}x{self.n}"

    async def known(self, name: str) -> int:
        """The person's id, creating them with a first message if need be."""
        person = self.people[name]
        if person.id is None:
            await self.say(Say(name, "c1"))
        assert person.id is not None
        return person.id

    async def run(self, op: Op) -> None:
        if isinstance(op, Say):
            await self.say(op)
        elif isinstance(op, Remember):
            uid = await self.known(op.person)
            text = self.tag(op.person)
            ids = await self.store.identities(uid)
            fact = await self.store.remember(uid, text, chat_id=op.chat, told=True, identities=ids)
            assert fact is not None
            self.people[op.person].facts[fact.id] = text
            self.facts.append(fact.id)
        elif isinstance(op, Link):
            await self.link(op)
        elif isinstance(op, Unlink):
            if self.people[op.person].id is None:
                return
            was = len(self.group[op.person]) > 1
            assert await self.store.unlink(await self.known(op.person)) == was
            for other in self.group[op.person] - {op.person}:
                self.group[other] = self.group[other] - {op.person}
            self.group[op.person] = {op.person}
        elif isinstance(op, Drop):
            if not self.facts or self.people[op.person].id is None:
                return
            fact_id = self.facts[op.pick % len(self.facts)]
            owner = next((n for n, p in self.people.items() if fact_id in p.facts), None)
            uid = await self.known(op.person)
            dropped = await self.store.drop_fact(await self.store.identities(uid), fact_id)
            assert dropped == (owner is not None and owner in self.group[op.person])
            if dropped and owner is not None:
                del self.people[owner].facts[fact_id]
        else:
            if self.people[op.person].id is None:
                return
            await self.store.forget(await self.known(op.person))
            for name in self.group[op.person]:
                self.people[name] = Person()
                self.group[name] = {name}

    async def say(self, op: Say) -> None:
        person = self.people[op.person]
        text = self.tag(op.person)
        got = await self.store.ingest(
            key(op.person, op.chat),
            display_name=op.person,
            platform_message_id=None,
            text=text,
            kind=TurnKind.CHAT,
            tokens=1,
        )
        assert got is not None
        person.id = got.user.id
        reply = self.tag(op.person)
        await self.store.complete(
            got.ref, reply=reply, outcome=Outcome.OK, tokens=1, first_token_ms=None, latency_ms=1
        )
        person.said |= {text, reply}
        self.said_ever += [text, reply]

    async def link(self, op: Link) -> None:
        issuer, redeemer = await self.known(op.issuer), await self.known(op.redeemer)
        code = code_hash(f"code{self.n}")
        await self.store.issue_link(issuer, code, expires_at=1e12)
        got = await self.store.redeem_link(redeemer, code, max_attempts=10**6, per_seconds=1)
        if op.redeemer in self.group[op.issuer]:
            assert got is LinkOutcome.OWN
            return
        assert got is LinkOutcome.LINKED
        joined = self.group[op.issuer] | self.group[op.redeemer]
        for name in joined:
            self.group[name] = joined

    async def check(self) -> None:
        await self.store.index_pending()  # what the background does twice a second
        for name, person in self.people.items():
            if person.id is None:
                continue
            group = self.group[name]
            ids = await self.store.identities(person.id)
            assert set(ids) == {self.people[n].id for n in group}
            theirs = set().union(*(self.people[n].said for n in group))
            held = {t for n in group for t in self.people[n].facts.values()}
            assert {f.text for f in await self.store.facts(ids)} == held
            # Searched with words said by anyone (the erased and the unlinked included) and
            # a word nobody said, only theirs comes back: recall searches the person's
            # rarest few words, so ask in groups small enough to be searched whole.
            for start in range(max(0, len(self.said_ever) - 20), len(self.said_ever), 5):
                asked = self.said_ever[start : start + 5]
                words = [self.tag("probe"), *asked]
                found = await self.store.recall(ids, words, exclude_conversation=-1, limit=999)
                assert {h.text for h in found} == set(asked) & theirs
            data = await self.store.export(person.id)
            exported = {m["text"] for c in data["conversations"] for m in c["messages"]}
            assert exported == theirs
            assert {f["text"] for f in data["facts"]} == held
            assert {i["user_id"] for i in data["identities"]} == group


@pytest.mark.parametrize("name", list(STORES))
@settings(max_examples=80, deadline=None)
@given(ops=operations)
def test_memory_facts_links_and_exports_reach_only_their_person(name: str, ops: list[Op]) -> None:
    asyncio.run(play(name, World, ops))
