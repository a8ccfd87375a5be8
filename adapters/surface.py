"""What delivery and a platform's surface agree on: the Surface port, bodies, errors, policy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from bot.types import Attachment, Done

H = TypeVar("H")  # a surface's handle on one message it sent


@dataclass(frozen=True, slots=True)
class Feedback:
    """The buttons under a finished answer: 👍, 👎 and ↻, for the stored reply `reply_id`.

    `rating` marks the choice already made (1, -1 or None); `reason` offers a way to say
    why after a 👎 where the platform has one (a Discord form).
    """

    reply_id: int
    rating: int | None = None
    reason: bool = False
    # ↻ alone, naming the user's turn: a restart interrupted it before any answer was stored.
    redo_only: bool = False


@dataclass(frozen=True, slots=True)
class Body:
    """A message body: text plus formatting spans where the platform takes them (Telegram),
    and the feedback buttons on an answer's last page."""

    text: str
    entities: tuple[Mapping[str, Any], ...] = ()
    buttons: Feedback | None = None


class RateLimited(Exception):
    """The platform said 429: nothing more to this chat for `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g}s")
        self.retry_after = retry_after


class Transient(Exception):
    """A network error, a timeout or a 5xx: the same call may succeed if tried again."""


class Rejected(Exception):
    """The platform refused this call for good (bad formatting, too long, ...)."""


class PageGone(Exception):
    """This message can no longer be edited (deleted, too old): post the page anew."""


class ChatGone(Exception):
    """The bot can no longer write here at all (blocked, kicked, channel deleted)."""


class Surface(Protocol[H]):
    """Where one reply goes, as each platform implements it.

    Implementations translate platform errors into the exceptions above, and treat
    "message is not modified" as success.
    """

    limit: int  # room for one page, in `measure` units, leaving what rendering may add
    typing_every: float  # seconds a "typing" signal lasts on this platform

    def measure(self, text: str) -> int: ...

    def render(self, page: str) -> Body:
        """The page as the platform shows it; never raises (plain text if need be)."""
        ...

    async def typing(self) -> None: ...

    async def send(self, body: Body) -> H: ...

    async def edit(self, message: H, body: Body) -> None: ...

    async def attach(self, file: Attachment) -> None:
        """Send a file after the reply's text, where only the person who asked will see it."""
        ...

    async def finish(self, delivered: Delivery[H]) -> None:
        """After the last page: e.g. clear a "thinking…" placeholder, later add buttons."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How hard delivery tries. Time is injected so tests can drive the clock by hand."""

    interval: float = 1.0  # seconds between edits of one reply
    # How long the first words are held back for more text: an answer that is complete by
    # then costs one send (no "typing", no edits); a slower one shows "typing", then text.
    first_wait: float = 0.5
    deadline: float = 600.0  # how long a reply's final text keeps trying (rate limits, outages)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass(slots=True)
class Delivery(Generic[H]):
    """What became of one reply on the platform."""

    done: Done | None = None  # None: nothing to answer (a repeat), or the stream broke
    delivered: bool = False  # every page shows its final text, and the file went with it
    messages: list[H] = field(default_factory=list)
    gone: bool = False  # the chat no longer takes the bot's messages
    broken: bool = False  # an error kept the final text (or the file) from the platform
    attached: bool = False  # the reply's file, if it had one, reached the person
