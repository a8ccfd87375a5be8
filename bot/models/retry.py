"""One retry policy for every remote backend: backoff with jitter, the server's delay, a deadline."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# A user is waiting: never sleep longer than this between attempts. A server asking for
# more (a spent daily quota) gets no retry at all: an early retry only burns quota.
MAX_RETRY_DELAY = 30.0


@dataclass(frozen=True, slots=True)
class Retry:
    """`retries` more attempts after the first, `backoff` seconds doubling with jitter
    between them, all inside `deadline` seconds: a person watching "typing…" waits no longer.
    """

    retries: int = 4
    backoff: float = 1.0
    deadline: float = 90.0


def pause(attempt: int, backoff: float, server: float | None) -> float | None:
    """Seconds to sleep after failed attempt number `attempt` (from 1); None: do not retry.

    The server's own delay (Retry-After, RetryInfo) when it gives one, plus up to 10% so
    waiting users do not stampede back together; else exponential backoff with jitter.
    """
    if server is None:
        return min(backoff * 2.0 ** (attempt - 1) + random.uniform(0, backoff), MAX_RETRY_DELAY)
    if server > MAX_RETRY_DELAY:
        return None
    return min(server * random.uniform(1.0, 1.1), MAX_RETRY_DELAY)


async def retried(
    attempt: Callable[[], Awaitable[T]],
    policy: Retry,
    *,
    transient: Callable[[BaseException], bool],
    server_delay: Callable[[BaseException], float | None],
    describe: Callable[[BaseException], str],
    what: str,
    log: logging.Logger,
) -> T:
    """`await attempt()` until it succeeds, fails for good, or the deadline passes.

    Only `transient` failures are tried again. Every attempt is cut at the deadline
    (TimeoutError, which the backends report as unavailable), and no retry starts whose
    pause would end past it. The last failure is raised as it is.
    """
    loop = asyncio.get_running_loop()
    deadline_at = loop.time() + policy.deadline
    number = 0
    while True:
        number += 1
        try:
            async with asyncio.timeout_at(deadline_at):
                return await attempt()
        except Exception as exc:
            if not transient(exc) or number > policy.retries:
                raise
            delay = pause(number, policy.backoff, server_delay(exc))
            if delay is None:
                raise
            if loop.time() + delay >= deadline_at:
                log.warning(
                    "%s %s: giving up, the %gs deadline is near",
                    what,
                    describe(exc),
                    policy.deadline,
                )
                raise
            log.warning(
                "%s %s: retrying in %.2fs (attempt %d of %d)",
                what,
                describe(exc),
                delay,
                number + 1,
                policy.retries + 1,
            )
        await asyncio.sleep(delay)
