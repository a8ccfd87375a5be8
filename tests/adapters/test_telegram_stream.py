"""ReplyStream against a scripted ChatSink: flood control, refused edits and broken replies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.telegram_stream import (
    TRANSIENT_ATTEMPTS,
    Body,
    RateLimited,
    Rejected,
    ReplyStream,
    Transient,
)


class ScriptedSink:
    """A chat that fails the next calls with `failures` (in order) and records every text."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.messages: dict[int, str] = {}
        self.edits = 0

    async def typing(self) -> None:
        return None

    async def send(self, body: Body) -> int:
        self._maybe_fail()
        message_id = len(self.messages) + 1
        self.messages[message_id] = body.text
        return message_id

    async def edit(self, message_id: int, body: Body) -> None:
        self.edits += 1
        self._maybe_fail()
        self.messages[message_id] = body.text

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)


async def chunks(*pieces: str, error: Exception | None = None) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece
    if error is not None:
        raise error


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_flood_control_on_the_final_edit_is_waited_out_however_often_it_comes() -> None:
    sink, sleeps = ScriptedSink(), Sleeps()
    stream = ReplyStream(sink, interval=60, sleep=sleeps)

    async def pieces() -> AsyncIterator[str]:
        yield "Hello "
        sink.failures = [RateLimited(1.0)] * 9  # only the final edit meets them
        yield "world"

    assert await stream.run(pieces()) == [1]
    assert sink.messages == {1: "Hello world"}
    assert sleeps == [1.0] * 9  # Telegram's retry_after, honoured each time


async def test_network_errors_on_the_final_edit_are_retried_a_few_times_only() -> None:
    sink, sleeps = ScriptedSink(), Sleeps()
    stream = ReplyStream(sink, interval=60, sleep=sleeps)

    async def pieces() -> AsyncIterator[str]:
        yield "Hello "
        sink.failures = [Transient("timed out")] * 20
        yield "world"

    with pytest.raises(Transient):
        await stream.run(pieces())
    assert len(sleeps) == TRANSIENT_ATTEMPTS - 1


@pytest.mark.parametrize(
    "error", ["Bad Request: message to edit not found", "Bad Request: message can't be edited"]
)
async def test_a_refused_final_edit_sends_the_page_as_a_new_message(error: str) -> None:
    sink = ScriptedSink()
    stream = ReplyStream(sink, interval=60, sleep=Sleeps())

    async def pieces() -> AsyncIterator[str]:
        yield "Some **bold** "
        sink.failures = [Rejected(error), Rejected(error)]  # formatted, then plain
        yield "text"

    assert await stream.run(pieces()) == [1, 2]
    assert sink.messages[2] == "Some bold text"  # still formatted: the error was not that


async def test_a_reply_that_breaks_off_leaves_what_arrived_on_screen() -> None:
    sink = ScriptedSink()
    stream = ReplyStream(sink, interval=60, sleep=Sleeps())
    with pytest.raises(RuntimeError, match="model died"):
        await stream.run(chunks("Hello ", "wor", error=RuntimeError("model died")))
    assert sink.messages == {1: "Hello wor"}  # not the stale "Hello" of the first send
