"""One structured log line per model reply, as finally delivered, and its metrics."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Protocol

from bot.types import Accepted, ConversationKey, Done, Outcome, ReplyEvent

if TYPE_CHECKING:
    from adapters.delivery import Delivery

log = logging.getLogger(__name__)
# Its own logger, so an operator can route or silence the reply lines alone.
replies = logging.getLogger("tertulia.reply")

# 16 hex digits (64 bits) of the keyed hash: unique enough to follow one person's lines,
# short enough to read.
PERSON_DIGITS = 16


class ReplyMetrics(Protocol):
    """Where a finished reply's figures go besides the log (adapters/metrics.py)."""

    def count(self, line: dict[str, Any]) -> None: ...


class Watch:
    """One message on its way through a session: whether the model was asked, the delivery."""

    def __init__(self, key: ConversationKey, arrived: float, clock: Callable[[], float]) -> None:
        self.key = key
        self.arrived = arrived
        self.clock = clock
        self.prompt_id: int | None = None  # set once the engine said the model is asked
        self.result: Delivery[Any] | None = None

    async def events(
        self, events: AsyncGenerator[ReplyEvent, None]
    ) -> AsyncGenerator[ReplyEvent, None]:
        """The engine's events, passed on unchanged; an Accepted one is noted."""
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Accepted):
                    self.prompt_id = event.ref.prompt_id
                yield event


class Observer:
    """Writes the reply line (logger `tertulia.reply`, INFO) and counts it in `metrics`.

    The person is a keyed hash (HMAC-SHA256 with the database's own random salt) of the
    platform and platform id: a plain hash of a Telegram id, a small integer, would be
    undone by hashing every integer; without the salt it cannot be.
    """

    def __init__(self, salt: bytes, metrics: ReplyMetrics | None = None) -> None:
        if len(salt) < 16:
            raise ValueError("the pseudonym salt is too short")
        self._salt = salt
        self.metrics = metrics

    def person(self, platform: str, user_id: str) -> str:
        mac = hmac.new(self._salt, f"{platform}:{user_id}".encode(), hashlib.sha256)
        return mac.hexdigest()[:PERSON_DIGITS]

    def finished(self, watch: Watch) -> dict[str, Any] | None:
        """Log (and count) the reply `watch` saw, if the model was asked; its fields."""
        if watch.prompt_id is None:
            return None  # a command, a refusal, a repeat: no model reply to report
        result = watch.result
        done = result.done if result is not None else None
        line = {
            "person": self.person(watch.key.platform, watch.key.user_id),
            "platform": watch.key.platform,
            "outcome": final_outcome(done, result is not None and result.delivered).value,
            "reply_id": done.ref.reply_id if done is not None and done.ref else None,
            "prompt_id": watch.prompt_id,
            "latency_ms": done.latency_ms if done else None,
            "first_token_ms": done.first_token_ms if done else None,
            "tokens": done.tokens if done else 0,
            # From arrival to the end of delivery: the wait in line and the platform's too.
            "total_ms": int((watch.clock() - watch.arrived) * 1000),
        }
        replies.info("reply %s", " ".join(f"{k}={_text(v)}" for k, v in line.items()), extra=line)
        if self.metrics is not None:
            try:
                self.metrics.count(line)
            except Exception:  # a metric must never cost a reply
                log.exception("could not count a reply")
        return line


def final_outcome(done: Done | None, delivered: bool) -> Outcome:
    """How the exchange ended for the person: the engine's outcome, unless an ok answer
    never reached them in full; no Done at all means it was stopped on the way."""
    if done is None:
        return Outcome.INTERRUPTED
    if done.outcome is Outcome.OK and not delivered:
        return Outcome.UNDELIVERED
    return done.outcome


def _text(value: object) -> str:
    return "-" if value is None else str(value)
