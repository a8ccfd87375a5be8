"""Fixtures for the dataset export: conversations written through the real store, then exported."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.dataset import ExportOptions, export_dataset, preview_dataset
from bot.types import ConversationKey, Outcome, Persona, TurnKind, TurnRef
from storage.sqlite import SqliteStore

# Personas of the tests' own: a golden file must not change when the shipped ones do.
PERSONAS = {
    "assistant": Persona("assistant", "You are a test assistant."),
    "tutor": Persona("tutor", "You are a patient test tutor."),
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tertulia.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(db_path) as opened:
        yield opened


@dataclass
class Person:
    """One identity talking to the bot through the real store, in one chat at a time."""

    store: SqliteStore
    user: str = "ann"
    platform: str = "telegram"
    chat: str = "c1"
    said: int = field(default=0)
    id: int = 0

    async def say(
        self,
        text: str,
        reply: str | None = "",
        *,
        outcome: Outcome = Outcome.OK,
        kind: TurnKind = TurnKind.CHAT,
        images: int = 0,
        persona: str | None = None,
    ) -> TurnRef:
        """The person's turn and the bot's reply (None: no reply stored, the exchange
        settled with `outcome`). A command or refused input is answered and settled ok."""
        self.said += 1
        got = await self.store.ingest(
            ConversationKey(self.platform, self.user, self.chat),
            display_name=self.user.title(),
            platform_message_id=f"m{self.said}",
            text=text,
            kind=kind,
            images=images,
        )
        assert got is not None
        self.id = got.user.id
        if reply is None or kind is not TurnKind.CHAT:
            await self.store.settle(got.ref, Outcome.OK if kind is not TurnKind.CHAT else outcome)
            return got.ref
        return await self.store.complete(
            got.ref,
            reply=reply,
            outcome=outcome,
            tokens=1,
            first_token_ms=1,
            latency_ms=2,
            persona=persona,
        )

    async def regenerate(self, ref: TurnRef, reply: str, outcome: Outcome = Outcome.OK) -> TurnRef:
        """A new answer to the same turn; an ok one supersedes `ref`'s."""
        again = TurnRef(ref.user_id, ref.conversation_id, ref.prompt_id, replaces=ref.reply_id)
        return await self.store.complete_again(
            again, reply=reply, outcome=outcome, tokens=1, first_token_ms=1, latency_ms=2
        )

    async def rate(self, ref: TurnRef, rating: int | None, reason: str | None = None) -> None:
        assert ref.reply_id is not None
        await self.store.rate([ref.user_id], ref.reply_id, rating, reason)

    async def consent(self, yes: bool = True) -> None:
        await self.store.set_consent(self.id, yes)

    async def new(self) -> None:
        await self.store.new_conversation(self.id, self.chat)


def export(db: Path, out: Path, fmt: str = "vertex-sft", **kw: Any) -> dict[str, Any]:
    return export_dataset(db, out, ExportOptions(format=fmt, **kw), PERSONAS)


def preview(db: Path, fmt: str = "vertex-sft", n: int = 50, **kw: Any) -> list[dict[str, Any]]:
    shown, _ = preview_dataset(db, ExportOptions(format=fmt, validation=0, **kw), PERSONAS, n=n)
    return shown


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def both(out: Path) -> list[dict[str, Any]]:
    """Every example written, training file first."""
    return lines(out / "train.jsonl") + lines(out / "validation.jsonl")


async def two_people(store: SqliteStore) -> None:
    """The golden files' conversations, one of each thing every format shows.

    Ann (Telegram, Spanish chosen): an answer kept, one regenerated and the new one rated
    up, one rated down with a reason. Ben (Discord, English by his words): an answer rated
    up, then one he rated up, regenerated, and rated the new one down. Cy never consented.
    """
    ann = Person(store, "100001", "telegram", "c-ann")
    await ann.say(
        "¿Cuál es la capital de Francia? Dímelo por favor.", "La capital de Francia es París."
    )
    second = await ann.say(
        "¿Y la de Italia? No me acuerdo.", "Creo que es Milán, pero no estoy segura."
    )
    await ann.rate(await ann.regenerate(second, "La capital de Italia es Roma."), 1)
    third = await ann.say(
        "¿Cuántos habitantes tiene Roma, más o menos?", "Roma tiene unos 40 habitantes."
    )
    await ann.rate(third, -1, "cifra absurda")
    await store.set_lang(ann.id, "es")
    await ann.consent()
    ben = Person(store, "200002", "discord", "c-ben")
    first = await ben.say(
        "What is the boiling point of water at sea level?", "It is 100 °C (212 °F)."
    )
    await ben.rate(first, 1)
    liked = await ben.say(
        "And what about on top of Everest, roughly?",
        "About 70 °C, because the air pressure is lower.",
    )
    await ben.rate(liked, 1)
    await ben.rate(await ben.regenerate(liked, "Water does not boil on Everest."), -1)
    await ben.consent()
    cy = Person(store, "300003", "telegram", "c-cy")
    await cy.say(
        "This is private and must never be exported, ok?", "Understood, nobody will see it."
    )
