"""deliver(): the edit throttle, paging and sure final delivery, against a recording surface."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from adapters.discord_stream import Page, PageGone, deliver, discord_length


class Flaky(Exception):
    pass


class RecordingSurface:
    """Messages kept as lists of contents; `fail_edits` edits raise before one succeeds."""

    def __init__(self, fail_edits: int = 0, dead_edits: bool = False) -> None:
        self.messages: list[list[str]] = []
        self.calls: list[str] = []
        self.fail_edits = fail_edits
        self.dead_edits = dead_edits
        self.ended: bool | None = None

    async def begin(self) -> None:
        self.calls.append("begin")

    async def send(self, text: str) -> Page:
        self.calls.append("send")
        self.messages.append([text])
        return _Page(self, len(self.messages) - 1)

    async def end(self, delivered: bool) -> None:
        self.ended = delivered


class _Page:
    def __init__(self, surface: RecordingSurface, index: int) -> None:
        self.surface, self.index = surface, index

    async def edit(self, text: str) -> None:
        self.surface.calls.append("edit")
        if self.surface.dead_edits:
            raise PageGone("Unknown Message")
        if self.surface.fail_edits:
            self.surface.fail_edits -= 1
            raise Flaky("503")
        self.surface.messages[self.index].append(text)


async def pieces(*parts: str, step: asyncio.Event | None = None) -> AsyncIterator[str]:
    for part in parts:
        await asyncio.sleep(0)  # let the consumer run between pieces, like a real stream
        yield part
        if step is not None:
            await step.wait()


async def test_edits_are_throttled_per_reply_but_the_final_text_lands() -> None:
    surface = RecordingSurface()
    words = [f"word{i} " for i in range(200)]
    text = await deliver(pieces(*words), surface, interval=3600)
    assert text == "".join(words)
    # One send for the first piece, one final edit: nothing in between within the hour.
    assert surface.calls == ["begin", "send", "edit"]
    assert surface.messages[0][-1] == "".join(words)
    assert surface.ended is True


async def test_final_edit_is_retried_until_it_succeeds() -> None:
    surface = RecordingSurface(fail_edits=2)
    text = await deliver(pieces("Hello", " world"), surface, interval=3600, retry_delay=0)
    assert text == "Hello world"
    assert surface.messages == [["Hello", "Hello world"]]


async def test_a_page_that_cannot_be_edited_is_sent_again() -> None:
    surface = RecordingSurface(dead_edits=True)
    await deliver(pieces("Hello", " world"), surface, interval=3600, retry_delay=0)
    assert surface.messages[-1] == ["Hello world"]


async def test_pages_past_the_limit_become_new_messages() -> None:
    surface = RecordingSurface()
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum " * 20 for i in range(12)]
    answer = "\n\n".join(paragraphs)
    await deliver(
        pieces(*[answer[i : i + 50] for i in range(0, len(answer), 50)]),
        surface,
        interval=0,
        limit=500,
    )
    finals = [m[-1] for m in surface.messages]
    assert len(finals) > 1
    assert all(discord_length(f) <= 500 for f in finals)
    assert " ".join(" ".join(finals).split()) == " ".join(answer.split())


async def test_nothing_to_say_posts_nothing() -> None:
    surface = RecordingSurface()
    assert await deliver(pieces(), surface) == ""
    assert surface.messages == []
    assert surface.ended is False


def test_length_counts_utf16_units_like_discord() -> None:
    assert discord_length("abc") == 3
    assert discord_length("😀") == 2
