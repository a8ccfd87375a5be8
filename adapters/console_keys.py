"""Ctrl-C in the terminal chat: the first stops the answer being written, a second leaves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# A second Ctrl-C this soon after the first leaves, even if another answer has started
# meanwhile (piped, the next line is answered at once).
AGAIN_WITHIN = 2.0


class CtrlC:
    """What Ctrl-C means now: stop the answer being written, or leave.

    While an answer runs, a press cancels it: the engine closes the model's stream and
    stores the exchange as interrupted. At the prompt, within `again` seconds of the
    previous press, or while a stopped answer is still being put away, a press leaves;
    an answer still running then is stopped first, so it is stored all the same.
    """

    def __init__(
        self, *, again: float = AGAIN_WITHIN, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._again = again
        self._clock = clock
        self._last = float("-inf")
        self._answer: asyncio.Task[Any] | None = None
        self._stopped = False
        self._leave = asyncio.Event()

    @property
    def leaving(self) -> bool:
        return self._leave.is_set()

    def press(self) -> None:
        now = self._clock()
        again = now - self._last < self._again
        self._last = now
        running = self._answer is not None and not self._answer.done() and not self._stopped
        if not again and running:
            self._stop()
            return
        self._leave.set()
        if running:
            self._stop()

    def _stop(self) -> None:
        assert self._answer is not None
        self._stopped = True
        self._answer.cancel()

    async def run(self, answer: Coroutine[Any, Any, object]) -> bool:
        """Run one answer to its end; whether Ctrl-C stopped it."""
        task = asyncio.ensure_future(answer)
        self._answer, self._stopped = task, False
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:  # the chat itself is cancelled: the answer goes too
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            self._answer = None
        if not task.cancelled():
            task.result()  # an error escaping the answer is the caller's
        return self._stopped

    async def unless_leaving(self, work: Awaitable[T]) -> T | None:
        """What `work` gives, or None as soon as a press means leaving (`leaving` is then set)."""
        task = asyncio.ensure_future(work)
        leave = asyncio.ensure_future(self._leave.wait())
        try:
            await asyncio.wait({task, leave}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            leave.cancel()
            if not task.done():
                task.cancel()
        return None if self.leaving else task.result()

    @contextlib.contextmanager
    def catching(self) -> Iterator[None]:
        """SIGINT presses this while the block runs; before and after, asyncio's own handler
        (cancel everything and leave) stays in charge, as during start-up and shutdown."""
        loop = asyncio.get_running_loop()
        before = signal.getsignal(signal.SIGINT)
        try:
            loop.add_signal_handler(signal.SIGINT, self.press)
        except (NotImplementedError, RuntimeError, ValueError) as exc:
            # Windows' event loops, or not the main thread: Ctrl-C simply leaves.
            log.debug("Ctrl-C keeps its default meaning: %s", exc)
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            if before is not None:
                signal.signal(signal.SIGINT, before)
