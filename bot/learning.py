"""Background upkeep of memory: facts from what people say, summaries of long conversations.

Runs after a reply was delivered, never on the reply's path; a failure is logged and the
same work is tried again later, never shown to anyone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from bot import context
from bot.ports import ChatModel, MemoryStore
from bot.types import Fact, StoredTurn, Summary, Turn, TurnRef

log = logging.getLogger(__name__)

FACT_CHARS = 300  # a fact is a sentence, not a paragraph
MAX_ADDS = 10  # per extraction: a runaway model cannot flood anyone's memory
SHOWN_FACTS = 40  # known facts the model compares new ones with
GIVE_UP_AFTER = 3  # failed extractions of one batch before it is passed over
FOLD_EVERY = 4  # delivered exchanges between two looks at a conversation's length
_COUNTED = 100_000  # people and conversations counted at once, at most

EXTRACT_PROMPT = """\
You keep a list of lasting facts about one person: their name, what they like and \
dislike, their work and projects, the people, pets and places in their life, dates that \
matter to them. You get their facts so far, each with an id, and their newest messages.
Take facts ONLY from what the person says about themselves. Ignore questions, requests, \
small talk, hypotheticals and anything about other subjects.
Answer with one JSON object and nothing else:
{"add": ["new fact", ...], "update": [{"id": 3, "text": "the fact as it is now"}], \
"end": [5]}
- add: facts not in the list yet. Never repeat a fact the list already has.
- update: a listed fact that changed (the old wording is kept as no longer valid).
- end: ids of listed facts the person says no longer hold.
Write each fact as one short sentence about them in the language they write in, e.g. \
"Has a dog called Toby" or "Tiene un perro que se llama Toby". Use {} if there is nothing."""

SUMMARY_PROMPT = """\
Summarise the conversation below for your own memory, so you can go on with it later \
without the full text: who the person is, what they asked, what you answered or decided \
together, what is still open. Keep names, numbers and dates. At most {words} words, in \
the language of the conversation. Start directly with the summary."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What one extraction asks of a person's facts."""

    add: tuple[str, ...] = ()
    update: tuple[tuple[int, str], ...] = ()
    end: tuple[int, ...] = ()


def parse_changes(answer: str, known: Sequence[int], *, first: bool = False) -> Changes:
    """The model's JSON answer, checked: only the listed facts may be changed.

    `first`: the person has no fact at all yet. Raises ValueError when the answer is not
    the asked-for object.
    """
    start, stop = answer.find("{"), answer.rfind("}")
    if start < 0 or stop < start:
        raise ValueError("no JSON object in the answer")
    data = json.loads(answer[start : stop + 1])
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    allowed = set(known)
    adds = tuple(_sentence(x) for x in _list(data, "add") if isinstance(x, str))
    if first:
        # Nothing to update yet: a small model (Qwen 0.5B in bench_recall) often files a
        # person's first facts under "update" with ids it made up. They are new facts all
        # the same. Otherwise an unlisted id stays ignored: it may name a fact hidden from
        # this chat (a private one, in a group) or mean a listed one, and a guess could
        # leak the first or keep two contradicting facts.
        adds += tuple(
            _sentence(x["text"])
            for x in _list(data, "update")
            if isinstance(x, dict) and isinstance(x.get("text"), str)
        )
    updates = tuple(
        (int(x["id"]), _sentence(x["text"]))
        for x in _list(data, "update")
        if isinstance(x, dict)
        and isinstance(x.get("id"), int)
        and x["id"] in allowed
        and isinstance(x.get("text"), str)
    )
    ends = tuple(x for x in _list(data, "end") if isinstance(x, int) and x in allowed)
    return Changes(tuple(a for a in adds if a)[:MAX_ADDS], tuple(u for u in updates if u[1]), ends)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    return value if isinstance(value, list) else []


def _sentence(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:FACT_CHARS]


class Learner:
    """Learns facts and folds long conversations, one task per identity at a time."""

    def __init__(
        self,
        store: MemoryStore,
        model: ChatModel,
        *,
        facts_every: int = 4,
        window_tokens: int = 1500,
        summary_tokens: int = 400,
        retry_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.model = model
        self.facts_every = facts_every  # 0: no facts are learnt
        self.window_tokens = window_tokens  # 0: no summaries are written
        self.summary_tokens = summary_tokens
        self.retry_after = retry_after
        self.clock = clock
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._failed: dict[tuple[str, int], float] = {}
        # Exchanges delivered since the last look, so most replies cost no query at all.
        self._unread: dict[int, int] = {}  # identity -> turns not yet read for facts
        self._unfolded: dict[int, int] = {}  # conversation -> exchanges since a fold check
        self._strikes: dict[tuple[int, int], int] = {}  # (identity, first turn) -> failures

    @property
    def busy(self) -> int:
        return len(self._tasks)

    def after_reply(self, ref: TurnRef) -> None:
        """Schedule the upkeep this delivered exchange may call for; returns at once."""
        facts = bool(self.facts_every) and _count(self._unread, ref.user_id) >= self.facts_every
        fold = (
            bool(self.window_tokens) and _count(self._unfolded, ref.conversation_id) >= FOLD_EVERY
        )
        if not (facts or fold) or ref.user_id in self._tasks:
            return  # counted: a later exchange starts it
        if facts:
            del self._unread[ref.user_id]
        if fold:
            del self._unfolded[ref.conversation_id]
        task = asyncio.create_task(self._upkeep(ref, facts, fold), name=f"learn-{ref.user_id}")
        self._tasks[ref.user_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(ref.user_id, None))

    async def idle(self) -> None:
        """Wait until no upkeep is running (tests, and a clean shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def close(self, grace: float = 2.0) -> None:
        """Let running upkeep finish for `grace` seconds, then cancel it: it is redone later."""
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _upkeep(self, ref: TurnRef, facts: bool, fold: bool) -> None:
        if facts:
            await self._guarded(("facts", ref.user_id), self._learn_facts(ref.user_id))
        if fold:
            key = ("summary", ref.conversation_id)
            await self._guarded(key, self._fold(ref.user_id, ref.conversation_id))

    async def _guarded(self, key: tuple[str, int], work: Any) -> None:
        failed = self._failed.get(key)
        if failed is not None and self.clock() - failed < self.retry_after:
            work.close()
            return  # failed a moment ago: the model is likely still down
        try:
            await work
            self._failed.pop(key, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Never shown to the person; the same turns stay unread and are tried again.
            log.warning("memory upkeep (%s) failed, will retry: %s", key[0], exc)
            if len(self._failed) > 10_000:
                self._failed.clear()
            self._failed[key] = self.clock()

    async def _learn_facts(self, user_id: int) -> None:
        unread = await self.store.unlearnt(user_id)
        if len(unread) < self.facts_every:
            return
        # One chat at a time: a fact keeps the chat it was said in (groups see only theirs),
        # and only that chat's facts are shown, so no private fact can be reworded into a
        # group's. The ones shown are those nearest to what was said.
        chat_id = unread[0][2]
        batch = _prefix(unread, chat_id)
        ids = await self.store.identities(user_id)
        said = context.search_words(" ".join(text for _, text, _ in batch))
        here = await self.store.facts(ids, chat_id=chat_id)
        known = context.nearest_facts(here, said)[:SHOWN_FACTS]
        strike = (user_id, batch[0][0])
        try:
            answer = await self._ask(*_extraction(known, batch))
            # No fact anywhere (read only when this chat shows none): the first ones.
            first = not here and not await self.store.facts(ids)
            changes = parse_changes(answer, [f.id for f in known], first=first)
        except Exception:
            # A batch the model always refuses (safety filters, never JSON) is passed over
            # after a few tries, or no fact would ever be learnt from this person again.
            if len(self._strikes) > _COUNTED:
                self._strikes.clear()
            self._strikes[strike] = self._strikes.get(strike, 0) + 1
            if self._strikes[strike] >= GIVE_UP_AFTER:
                del self._strikes[strike]
                await self.store.learnt(user_id, batch[-1][0])
                log.warning("passing over %d turns no facts could be read from", len(batch))
            raise
        self._strikes.pop(strike, None)
        # New facts first, checked against those that hold now; then the changes.
        for text in changes.add:
            await self.store.remember(user_id, text, chat_id=chat_id, told=False, identities=ids)
        for fact_id, text in changes.update:
            await self.store.remember(
                user_id, text, chat_id=chat_id, told=False, identities=ids, replaces=fact_id
            )
        for fact_id in changes.end:
            await self.store.expire_fact(ids, fact_id)
        await self.store.learnt(user_id, batch[-1][0])
        log.info(
            "learnt from %d turns: %d new, %d changed",
            len(batch),
            len(changes.add),
            len(changes.update) + len(changes.end),
        )

    async def _fold(self, user_id: int, conversation_id: int) -> None:
        summary, turns = await self.store.unsummarised(user_id, conversation_id)
        if sum(t.tokens for t in turns) <= self.window_tokens:
            return
        # Keep about half the window verbatim; everything older goes into the summary.
        kept, older = 0, len(turns)
        while older > 0 and kept + turns[older - 1].tokens <= self.window_tokens // 2:
            older -= 1
            kept += turns[older].tokens
        # Never the newest exchange: it is the one ↻ may answer again, in the context it
        # had, which its own answer must not be part of (summarised or not).
        older = min(older, max(0, len(turns) - 2))
        folded = turns[:older]
        if not folded:
            return
        words = max(50, self.summary_tokens * 3 // 4)
        system = SUMMARY_PROMPT.format(words=words)
        text = await self._ask(system, _transcript(summary, folded))
        if text.strip():
            await self.store.summarise(
                user_id, conversation_id, Summary(text.strip(), folded[-1].id)
            )

    async def _ask(self, system: str, prompt: str) -> str:
        parts: list[str] = []
        async with aclosing(self.model.stream(system, [Turn("user", prompt)])) as stream:
            async for piece in stream:
                parts.append(piece)
        return "".join(parts)


def _count(counts: dict[int, int], key: int) -> int:
    if len(counts) >= _COUNTED and key not in counts:
        counts.clear()  # bounded: a forgotten count only delays upkeep by a few turns
    counts[key] = counts.get(key, 0) + 1
    return counts[key]


def _prefix(rows: Sequence[tuple[int, str, str]], chat_id: str) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    for row in rows:
        if row[2] != chat_id:
            break
        out.append(row)
    return out


def _extraction(known: Sequence[Fact], batch: Sequence[tuple[int, str, str]]) -> tuple[str, str]:
    facts = "\n".join(f"#{f.id}: {f.text}" for f in known) or "(none yet)"
    said = "\n".join(f"- {' '.join(text.split())[:2000]}" for _, text, _ in batch)
    return EXTRACT_PROMPT, f"Their facts so far:\n{facts}\n\nTheir newest messages:\n{said}"


def _transcript(summary: Summary | None, turns: Sequence[StoredTurn]) -> str:
    lines = [f"Summary so far: {summary.text}", ""] if summary else []
    for turn in turns:
        who = "Person" if turn.role == "user" else "You"
        lines.append(f"{who}: {turn.text}")
    return "\n".join(lines)
