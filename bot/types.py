"""Values that cross the engine's ports: keys, users, turns, media, personas and reply events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Role = Literal["user", "assistant"]
# A turn of a request may also be "system": memory placed after the window, sent only to a
# model that keeps its evaluated prompt (reuses_prefix: the local one). See bot/prompting.py.
PromptRole = Literal["user", "assistant", "system"]


class TurnKind(StrEnum):
    """What a stored user turn was: a question for the model, a command, or refused input."""

    CHAT = "chat"
    COMMAND = "command"
    REJECTED = "rejected"


class Outcome(StrEnum):
    """How an exchange ended. Only an `ok` chat exchange is ever fed back as context."""

    PENDING = "pending"  # stored, the model not done yet (or the process died)
    OK = "ok"
    FAILED = "failed"
    BLOCKED = "blocked"  # the provider's safety filters
    INTERRUPTED = "interrupted"  # stopped before the model finished
    UNDELIVERED = "undelivered"  # the platform never accepted the reply
    SUPERSEDED = "superseded"  # replaced by a regenerated answer


class Rated(StrEnum):
    """What became of a person's rating of a reply, or of their request to regenerate it."""

    OK = "ok"
    NOT_YOURS = "not_yours"  # someone else's reply: only the person who asked may rate it
    GONE = "gone"  # erased, or never a finished answer of the model's
    NOT_LATEST = "not_latest"  # regenerate: only the newest answer of the open conversation


class LinkOutcome(StrEnum):
    """What became of a /link code someone sent."""

    LINKED = "linked"
    INVALID = "invalid"  # unknown, used or expired
    OWN = "own"  # the code is this person's own (or they are linked already)
    TOO_MANY = "too_many"  # too many attempts lately: wait


class MediaKind(StrEnum):
    """Kinds of media a platform may carry that the engine answers about."""

    PHOTO = "photo"  # an image the adapter could not hand over
    STICKER = "sticker"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    VIDEO_NOTE = "video_note"
    ANIMATION = "animation"
    DOCUMENT = "document"
    FILE = "file"
    LOCATION = "location"
    CONTACT = "contact"
    POLL = "poll"
    DICE = "dice"
    GAME = "game"
    STORY = "story"
    MESSAGE = "message"  # anything else the platform invents


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Who is talking, where: one line of messages answered in order."""

    platform: str
    user_id: str
    chat_id: str


@dataclass(frozen=True, slots=True)
class Persona:
    """A system prompt with a name and a description in each catalog language."""

    name: str
    prompt: str
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def description(self, lang: str) -> str:
        return self.descriptions.get(lang) or self.descriptions.get("en", "")


@dataclass(frozen=True, slots=True)
class Image:
    """An image the user sent, as raw bytes with its MIME type."""

    data: bytes
    mime_type: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class RemoteImage:
    """An image still on the platform: fetched once the message is stored and "typing" shows.

    `fetch` returns None when the image cannot be had (too large, gone, network).
    """

    fetch: Callable[[], Awaitable[Image | None]]


@dataclass(frozen=True, slots=True)
class CommandCall:
    """A command as the platform delivered it: its name and its arguments' text."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message for the bot, converted once from the platform's native type.

    The adapter decides whether the message was meant for the bot, and whether it is a
    command: the engine never re-parses text.
    """

    key: ConversationKey
    text: str = ""
    display_name: str = ""
    language: str | None = None  # the platform's hint ("es-ES"), if any
    message_id: str | None = None  # the idempotency key within the chat
    is_direct: bool = True
    images: tuple[Image | RemoteImage, ...] = ()
    # Media the adapter could not convert: the engine says what it can read.
    unsupported: MediaKind | None = None
    command: CommandCall | None = None
    # Only the sender will see the answer (a Discord ephemeral reply), even in a group:
    # commands that show a person's own data answer there too.
    private: bool = False
    # The Discord server the message was sent in (None elsewhere): TERTULIA_ALLOWED_GUILDS.
    guild_id: str | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of context handed to a model."""

    role: PromptRole
    text: str
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class User:
    """A person on one platform, as the store keeps them, with their own choices."""

    id: int
    platform: str
    platform_user_id: str
    lang: str | None = None  # the person's choices: shared by every linked identity
    persona: str | None = None
    # Every identity of this person (linked with /link), this one included.
    identities: tuple[int, ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        """The ids whose memory is this person's: their own, and their linked identities'."""
        return self.identities or (self.id,)


@dataclass(frozen=True, slots=True)
class TurnRef:
    """A stored exchange: the user's turn and, once recorded, the reply that answers it."""

    user_id: int
    conversation_id: int
    prompt_id: int
    reply_id: int | None = None
    # A regenerated answer: the reply it replaces (kept, marked superseded; it stands
    # again if the new one fails or never reaches the person).
    replaces: int | None = None


@dataclass(frozen=True, slots=True)
class Redo:
    """The exchange a regenerated answer redoes: its user turn, and the answer that stands."""

    prompt_id: int
    text: str
    images: int  # images are not kept: an answer about one cannot be asked for again
    kept: int | None  # the answer to replace, None when the exchange has none that counts
    persona: str | None = None  # the persona that answer was written as


@dataclass(frozen=True, slots=True)
class Orphan:
    """A turn a dead process left mid-answer, now settled interrupted: who to tell, where."""

    ref: TurnRef
    platform: str
    user_id: str  # the platform's id of the person
    chat_id: str  # as in ConversationKey
    message_id: str | None  # the platform's id of their message, to reply to it
    lang: str | None  # their /lang choice, if they made one


@dataclass(frozen=True, slots=True)
class Standing:
    """What the store knows of one identity before its message is stored: whether it is
    blocked, when it was last told it is refused, today's use, and its recent questions."""

    blocked: bool = False
    tokens_today: int = 0
    messages_today: int = 0
    # When the oldest of its newest `burst` questions to the model was stored (None: fewer).
    burst_started: float | None = None


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One stored turn as the context builder sees it."""

    role: Role
    text: str
    tokens: int
    id: int = 0


@dataclass(frozen=True, slots=True)
class Recalled:
    """A turn from one of the person's earlier conversations, with the turn that pairs it."""

    role: Role
    text: str
    said_at: float  # Unix time
    partner: str | None = None  # the reply to a user's turn, or the question a reply answers


@dataclass(frozen=True, slots=True)
class Fact:
    """Something a person said about themselves, remembered until it stops holding."""

    id: int
    text: str
    created_at: float  # Unix time
    told: bool = False  # given with /remember rather than learnt by the model
    valid_until: float | None = None  # when it stopped holding; None while it holds
    chat_id: str = ""  # where it was said: a group sees only the facts said in it


@dataclass(frozen=True, slots=True)
class Summary:
    """A conversation's older part folded into a few lines, up to message `through`."""

    text: str
    through: int


@dataclass(frozen=True, slots=True)
class Ingested:
    """A user's turn just stored: who they are, where it went, and what came before."""

    user: User
    ref: TurnRef
    summary: Summary | None = None  # of this conversation's older part, if one was written
    facts: tuple[Fact, ...] = ()  # the person's facts that hold, newest first
    earlier: bool = True  # the person has other conversations: recall may find something


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with a reply (a person's /export): its name, bytes and type."""

    name: str
    data: bytes
    mime_type: str = "application/json"


# -- reply events: what answering a message yields, in order --------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    """The message is stored and the model is being asked: show "typing"."""

    ref: TurnRef


@dataclass(frozen=True, slots=True)
class Done:
    """The last event of every answer. `notice` is the localised text to add, if any."""

    ref: TurnRef | None
    outcome: Outcome
    notice: str = ""
    attachment: Attachment | None = None  # sent after the text, to the same person only
    # When the model was asked: what the store recorded of it (the per-reply log line).
    tokens: int = 0
    latency_ms: int | None = None
    first_token_ms: int | None = None


# Text pieces are plain strings: one object per streamed chunk is all a reply costs.
ReplyEvent = str | Accepted | Done


# -- tuning records: what the dataset export reads from a store -----------------------


@dataclass(frozen=True, slots=True)
class TrainingTurn:
    """One stored turn of a conversation, as the tuning-dataset export reads it."""

    id: int
    role: Role
    text: str
    kind: TurnKind
    outcome: Outcome
    created_at: float  # Unix time
    reply_to: int | None = None  # an answer: the user's turn it answers
    rating: int | None = None  # 1 thumbs up, -1 thumbs down, None unrated
    reason: str | None = None  # why a thumbs down, when the person said
    images: int = 0  # images sent with a user's turn (their bytes are never stored)


@dataclass(frozen=True, slots=True)
class TrainingConversation:
    """One conversation of a person who consented to tuning (or the part of it answered
    as one persona), with the person's language.

    `persona` is the one its answers were written as (kept with each answer since
    migration 010; older answers count as the person's persona today); a conversation in
    which the person switched persona comes as one part per persona, with the same id.
    `lang` is the person's (the root identity's), shared by linked identities.
    """

    id: int
    person: int  # the root identity: the same for every linked identity
    user_id: int  # the identity that wrote it
    platform: str
    chat_id: str
    started_at: float
    persona: str | None
    lang: str | None
    turns: tuple[TrainingTurn, ...]
