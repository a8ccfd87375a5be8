"""A recording delivery surface and a clock driven by hand, for the delivery and session tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from adapters.delivery import Body, Delivery, Feedback, Policy, Rejected
from bot.types import Attachment, ReplyEvent


class Clock:
    """Time that moves only when a test (or a sleep) moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def policy(
        self, interval: float = 1.0, deadline: float = 600.0, first_wait: float = 0.0
    ) -> Policy:
        return Policy(
            interval=interval,
            deadline=deadline,
            first_wait=first_wait,
            clock=self,
            sleep=self.sleep,
        )


@dataclass
class Call:
    kind: str  # typing | send | edit | attach (its text: the file's name)
    message: int | None
    text: str
    at: float
    buttons: Feedback | None = None


# A failure rule: (call kind, predicate on the text) -> the exception to raise, once.
Rule = tuple[str, Callable[[str], bool], Exception]


@dataclass
class RecordingSurface:
    """Records every call; fails calls that match `failures` (each once, in order)."""

    clock: Clock
    limit: int = 200
    typing_every: float = 5.0
    formatted: bool = False  # render adds an entity, as Telegram's renderer does
    refuse_formatting: bool = False  # ... and the platform refuses it
    failures: list[Rule] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    messages: dict[int, str] = field(default_factory=dict)
    finished: list[Delivery[int]] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)  # attached, in order
    typing_gate: asyncio.Event | None = None  # when set: each typing call waits for it
    typing_done: int = 0

    def measure(self, text: str) -> int:
        return len(text)

    def render(self, page: str) -> Body:
        if self.formatted:
            return Body(page, ({"type": "bold", "offset": 0, "length": 1},))
        return Body(page)

    async def typing(self) -> None:
        self.calls.append(Call("typing", None, "", self.clock.now))
        if self.typing_gate is not None:
            await self.typing_gate.wait()
        self.typing_done += 1

    async def send(self, body: Body) -> int:
        self._check("send", body.text, formatted=bool(body.entities), buttons=body.buttons)
        message = len(self.messages) + 1
        self.messages[message] = body.text
        return message

    async def edit(self, message: int, body: Body) -> None:
        self._check("edit", body.text, message, formatted=bool(body.entities), buttons=body.buttons)
        self.messages[message] = body.text

    async def attach(self, file: Attachment) -> None:
        self._check("attach", file.name)
        self.files.append(file)

    async def finish(self, delivered: Delivery[int]) -> None:
        self.finished.append(delivered)

    def fail(self, kind: str, exc: Exception, when: Callable[[str], bool] = lambda _: True) -> None:
        self.failures.append((kind, when, exc))

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.kind != "typing"]

    def _check(
        self,
        kind: str,
        text: str,
        message: int | None = None,
        *,
        formatted: bool = False,
        buttons: Feedback | None = None,
    ) -> None:
        self.calls.append(Call(kind, message, text, self.clock.now, buttons))
        if self.refuse_formatting and formatted:
            raise Rejected("can't parse entities")
        for i, (k, when, exc) in enumerate(self.failures):
            if k == kind and when(text):
                del self.failures[i]
                raise exc


async def timed(clock: Clock, *steps: tuple[float, ReplyEvent]) -> AsyncIterator[ReplyEvent]:
    """Events that arrive at given moments: (seconds after the previous one, event)."""
    for gap, event in steps:
        clock.now += gap
        yield event
