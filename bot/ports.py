"""The engine's ports: the model and the store it depends on, and the errors that cross them."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from bot.types import (
    ConversationKey,
    Ingested,
    Outcome,
    Recalled,
    StoredTurn,
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
        self, user_id: int, conversation_id: int, *, max_turns: int = 200
    ) -> list[StoredTurn]:
        """The newest `ok` chat turns of one conversation, newest first."""
        ...

    async def recall(
        self,
        user_id: int,
        words: Sequence[str],
        *,
        exclude_conversation: int,
        chat_id: str | None = None,
        limit: int = 5,
    ) -> list[Recalled]:
        """The person's answered chat turns from other conversations (in `chat_id` only,
        when given) that best match any of `words` (full text, accents folded), best first."""
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
    ) -> TurnRef:
        """Record the reply; the user's turn takes the same outcome. The ref with its reply."""
        ...

    async def settle(self, ref: TurnRef, outcome: Outcome) -> None:
        """Change an exchange's outcome (both turns), e.g. to undelivered."""
        ...

    async def new_conversation(self, user_id: int, chat_id: str) -> int:
        """Close the active conversation in this chat (it is kept) and open a new one."""
        ...

    async def set_lang(self, user_id: int, lang: str | None) -> None: ...

    async def set_persona(self, user_id: int, persona: str) -> None: ...

    async def forget(self, user_id: int) -> int:
        """Erase the person and everything stored about them; how many turns went."""
        ...

    async def find_user(self, platform: str, platform_user_id: str) -> User | None: ...

    async def stats(self) -> dict[str, int]:
        """Counts across all people (for admins): users, conversations, messages."""
        ...
