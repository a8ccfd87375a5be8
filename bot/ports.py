"""The engine's ports: the model and the store it depends on, and the errors that cross them."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol, runtime_checkable

from bot.types import (
    ConversationKey,
    Fact,
    Ingested,
    LinkOutcome,
    Orphan,
    Outcome,
    Rated,
    Recalled,
    Redo,
    Standing,
    StoredTurn,
    Summary,
    Turn,
    TurnKind,
    TurnRef,
    User,
)


class ModelError(Exception):
    """The model could not answer; the engine records the turn as failed."""


class ModelBlocked(ModelError):
    """The provider refused the prompt or the answer (safety filters)."""


class ModelUnavailable(ModelError):
    """The provider could not be reached, timed out or kept failing after retries."""


class Substitute(str):
    """An empty chunk a model chain yields before any text: this answer comes from
    `backend` because the backends in `failed` were down. Empty, so a caller that only
    joins the text loses nothing; the engine reads it to say so in one line."""

    backend: str
    failed: tuple[str, ...]

    def __new__(cls, backend: str, failed: tuple[str, ...]) -> Substitute:
        chunk = super().__new__(cls, "")
        chunk.backend = backend
        chunk.failed = failed
        return chunk


class StorageError(Exception):
    """The store cannot be opened or migrated; the message names the setting."""


class ChatModel(Protocol):
    """A model backend: one streaming method plus what the engine needs to budget context."""

    backend: str  # "gemini", "openai", "local", ...
    model: str  # the model's name, shown by /model
    accepts_images: bool
    context_tokens: int  # the model's whole window
    max_output_tokens: int  # the longest reply it is asked for

    async def open(self) -> None:
        """Load weights or open clients; called once at start-up, never per message."""

    async def close(self) -> None:
        """Release clients, threads and memory; called once at shutdown."""

    def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        """Yield the reply's text in chunks as the model produces it; raise ModelError."""
        ...

    def estimate_tokens(self, text: str) -> int:
        """The number of tokens `text` takes, exactly or as a cheap estimate."""
        ...


class Embedder(Protocol):
    """Text to vectors, for recall by meaning. Called in batches, off the reply path."""

    name: str  # "gemini/text-embedding-004": vectors of different embedders never mix
    dimensions: int

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        """One vector per text, in order. `query` marks a search rather than a document
        (e5 and Gemini embed the two differently). Raise ModelError when it cannot."""
        ...


class MemoryStore(Protocol):
    """Per-person memory: exactly what the engine and its commands ask of a store.

    Every query that reads a person's turns takes that person's id: no call can reach
    another person's text.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ingest(
        self,
        key: ConversationKey,
        *,
        display_name: str,
        platform_message_id: str | None,
        text: str,
        kind: TurnKind,
        tokens: int = 0,
        images: int = 0,
    ) -> Ingested | None:
        """Store a user's turn (outcome pending); None when this platform message is stored."""
        ...

    async def window(
        self,
        user_id: int,
        conversation_id: int,
        *,
        after: int = 0,
        before: int | None = None,
        max_turns: int = 200,
    ) -> list[StoredTurn]:
        """The newest `ok` chat turns of one conversation after message `after` (and before
        `before`, when given), newest first."""
        ...

    async def recall(
        self,
        user_id: int | Sequence[int],
        words: Sequence[str],
        *,
        exclude_conversation: int,
        chat_id: str | None = None,
        limit: int = 5,
        vector: Sequence[float] | None = None,
        embedder: str = "",
    ) -> list[Recalled]:
        """The person's answered chat turns from other conversations (in `chat_id` only,
        when given) that best match any of `words` (full text, accents folded), best first.
        `user_id` may be every identity of a linked person. With the message's `vector`
        (from `embedder`), the turns nearest in meaning join by reciprocal rank fusion."""
        ...

    async def index_pending(self) -> int:
        """Make every stored chat turn searchable now (a store may index in batches, in the
        background, and always does when a new conversation starts); how many it indexed."""
        ...

    async def unembedded(self, embedder: str, *, limit: int = 64) -> list[tuple[int, int, str]]:
        """Chat turns this embedder has not seen yet, oldest first: (id, user id, text)."""
        ...

    async def keep_vectors(
        self, embedder: str, found: Sequence[tuple[int, int, Sequence[float]]], *, through: int
    ) -> None:
        """Store vectors of (message id, user id, vector), each only on the message it was
        made from, and move this embedder's mark to message `through`."""
        ...

    async def claim_embedding(
        self, embedder: str, holder: str, *, now: float, hold: float
    ) -> float:
        """Take (or keep) the right to embed for `embedder` until `now + hold`, so processes
        sharing the store never pay to embed the same turns twice: 0.0 when `holder` has
        it, else the time another holder's claim ends."""
        ...

    async def release_embedding(self, embedder: str, holder: str) -> None:
        """Give the claim up (nothing left to embed, or closing): another may take it now."""
        ...

    # -- facts and summaries ------------------------------------------------------------

    async def facts(
        self,
        user_ids: Sequence[int],
        *,
        chat_id: str | None = None,
        current: bool = True,
        limit: int = 200,
    ) -> list[Fact]:
        """The person's facts, newest first: those that hold (or all), from `chat_id` only
        when given."""
        ...

    async def remember(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: str,
        told: bool,
        identities: Sequence[int] = (),
        replaces: int | None = None,
    ) -> Fact | None:
        """Keep a fact; None when the person already has it. `replaces` stops one of
        theirs from holding, pointing at the new one."""
        ...

    async def expire_fact(self, user_ids: Sequence[int], fact_id: int) -> bool:
        """Mark one of the person's facts as no longer holding (kept, with the date)."""
        ...

    async def drop_fact(self, user_ids: Sequence[int], fact_id: int) -> bool:
        """Erase one of the person's facts for good; False if they have none by that id."""
        ...

    async def unlearnt(self, user_id: int, *, limit: int = 40) -> list[tuple[int, str, str]]:
        """This identity's answered chat turns not yet read for facts: (id, text, chat_id)."""
        ...

    async def learnt(self, user_id: int, through: int) -> None:
        """The identity's turns up to message `through` have been read for facts."""
        ...

    async def unsummarised(
        self, user_id: int, conversation_id: int, *, limit: int = 400
    ) -> tuple[Summary | None, list[StoredTurn]]:
        """A conversation's summary so far and its answered turns after it, oldest first."""
        ...

    async def summarise(self, user_id: int, conversation_id: int, summary: Summary) -> bool:
        """Keep a conversation's new summary, unless a newer one got there first."""
        ...

    async def holdings(self, user_ids: Sequence[int]) -> tuple[int, int]:
        """How many conversations and messages are stored for the person."""
        ...

    async def export(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the person (every linked identity), JSON-ready."""
        ...

    # -- identities ---------------------------------------------------------------------

    async def identities(self, user_id: int) -> tuple[int, ...]:
        """Every identity of the person `user_id` is (itself included)."""
        ...

    async def issue_link(self, user_id: int, code_hash: str, expires_at: float) -> None:
        """Keep a new /link code's hash for this identity; its earlier codes stop working."""
        ...

    async def redeem_link(
        self, user_id: int, code_hash: str, *, max_attempts: int, per_seconds: float
    ) -> LinkOutcome:
        """Join this identity to the person who issued the code (every attempt counts)."""
        ...

    async def burn_link(self, code_hash: str) -> None:
        """A code was seen by others: it stops working, whoever issued it."""
        ...

    async def unlink(self, user_id: int) -> bool:
        """Separate this identity from the person it was linked with; False if it was not."""
        ...

    async def complete(
        self,
        ref: TurnRef,
        *,
        reply: str,
        outcome: Outcome,
        tokens: int,
        first_token_ms: int | None,
        latency_ms: int,
        persona: str | None = None,
    ) -> TurnRef:
        """Record the reply (written as `persona`); the user's turn takes the same outcome.
        The ref with its reply."""
        ...

    async def settle(self, ref: TurnRef, outcome: Outcome) -> None:
        """Change an exchange's outcome (both turns), e.g. to undelivered."""
        ...

    # -- feedback: ratings, regenerated answers, consent to tuning --------------------

    async def rate(
        self, user_ids: Sequence[int], reply_id: int, rating: int | None, reason: str | None = None
    ) -> Rated:
        """Rate one of the person's answers: 1, -1, or None to take it back. A thumbs down
        keeps its earlier reason unless `reason` is given."""
        ...

    async def latest_reply(self, user_ids: Sequence[int], chat_id: str) -> int | None:
        """The person's newest ok answer in this chat, if any."""
        ...

    async def rated_down(self, user_ids: Sequence[int], chat_id: str, since: float) -> int | None:
        """The answer last rated 👎 here since `since` that has no reason yet."""
        ...

    async def redo(
        self, user_ids: Sequence[int], conversation_id: int, reply_id: int | None
    ) -> tuple[Rated, Redo | None]:
        """The exchange to regenerate: the newest of the conversation (`reply_id` must be
        its answer when given)."""
        ...

    async def redoable(self, user_ids: Sequence[int], chat_id: str, reply_id: int) -> Rated:
        """Whether ↻ on this answer would regenerate it (nothing is written)."""
        ...

    async def complete_again(
        self,
        ref: TurnRef,
        *,
        reply: str,
        outcome: Outcome,
        tokens: int,
        first_token_ms: int | None,
        latency_ms: int,
        persona: str | None = None,
    ) -> TurnRef:
        """Record a regenerated answer; if it is ok, `ref.replaces` becomes superseded."""
        ...

    async def unsupersede(self, ref: TurnRef, outcome: Outcome) -> None:
        """A regenerated answer was never seen: settle it, and the one it replaced counts."""
        ...

    async def set_consent(self, user_id: int, consent: bool) -> None: ...

    async def consent(self, user_id: int) -> bool: ...

    async def new_conversation(self, user_id: int, chat_id: str) -> int:
        """Close the active conversation in this chat (it is kept) and open a new one."""
        ...

    async def set_lang(self, user_id: int, lang: str | None) -> None: ...

    async def set_persona(self, user_id: int, persona: str) -> None: ...

    async def forget(self, user_id: int) -> int:
        """Erase the person (every linked identity) and everything stored about them; how
        many turns went."""
        ...

    async def find_user(self, platform: str, platform_user_id: str) -> User | None: ...

    async def stats(self) -> dict[str, int]:
        """Counts across all people (for admins): users, conversations, messages."""
        ...

    async def log_salt(self) -> bytes:
        """This database's random key (made once, never changed) for the logs' pseudonyms."""
        ...

    # -- access and limits: shared by every process on the store ----------------------

    async def standing(
        self, platform: str, platform_user_id: str, *, day: str, burst: int = 1
    ) -> Standing:
        """The identity's block, its use on `day` (UTC, YYYY-MM-DD), and when its newest
        `burst` questions to the model began; one cheap read, before each message."""
        ...

    async def notify(
        self, platform: str, platform_user_id: str, reason: str, *, now: float, every: float
    ) -> bool:
        """Whether to tell this identity about `reason` now: True at most once per `every`
        seconds, however many processes ask."""
        ...

    async def block(self, platform: str, platform_user_id: str, *, by: str, now: float) -> bool:
        """Block an identity (it need not have written yet); False when it already was."""
        ...

    async def unblock(self, platform: str, platform_user_id: str) -> bool:
        """Lift a block; False when there was none."""
        ...


@runtime_checkable
class TurnRecovery(Protocol):
    """What crash recovery needs of a store (SqliteStore has it): the orphaned turns."""

    async def claim_orphans(
        self, platform: str, processes: Sequence[str], *, started: float, now: float
    ) -> list[Orphan]:
        """Settle as interrupted, in one transaction, the pending chat turns of `platform`
        that no live process named in `processes` may still be answering (this process,
        which started at `started`, answers none of them yet); return them."""
        ...
