"""deliver() end to end on hostile text: every body sent fits, the final pages hold the answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.delivery import Body, deliver
from adapters.discord.surface import MESSAGE_LIMIT
from adapters.telegram.render import LIMIT, render
from adapters.telegram.surface import MARGIN
from bot.split import ReplyPager, utf16_len
from bot.types import Accepted, Done, Outcome, ReplyEvent, TurnRef
from tests.delivery.surfaces import Clock, RecordingSurface, timed
from tests.engine.split_oracle import aligns
from tests.hostile.strategies import hostile
from tests.hostile.test_render_hostile import check_message

REF = TurnRef(1, 1, 1, reply_id=2)
DELIVERY = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class DiscordLike(RecordingSurface):
    """Discord's limit and measure; Discord is sent the Markdown itself."""

    limit: int = MESSAGE_LIMIT

    def measure(self, text: str) -> int:
        return utf16_len(text)


@dataclass
class TelegramLike(RecordingSurface):
    """Telegram's page limit, measure and real renderer; remembers the Markdown of each message.

    deliver() renders a page right before it sends or edits it, so the page last rendered
    is the one each write shows (two pages may render alike: "0\n" and "0").
    """

    limit: int = LIMIT - MARGIN
    rendered: list[tuple[str, Body]] = field(default_factory=list)  # (page, body) written
    shows: dict[int, str] = field(default_factory=dict)  # message -> its page's Markdown
    _page: str = ""

    def measure(self, text: str) -> int:
        return utf16_len(text)

    def render(self, page: str) -> Body:
        text, entities = render(page)
        self._page = page
        return Body(text, entities)

    async def send(self, body: Body) -> int:
        message = await super().send(body)
        self.rendered.append((self._page, body))
        self.shows[message] = self._page
        return message

    async def edit(self, message: int, body: Body) -> None:
        await super().edit(message, body)
        self.rendered.append((self._page, body))
        self.shows[message] = self._page


def chunks(text: str, sizes: list[int]) -> list[str]:
    """`text` cut into pieces of `sizes` (cycled), at most about 200 of them: keeps CI fast."""
    least = len(text) // 200 + 1
    out, at, i = [], 0, 0
    while at < len(text):
        size = max(least, sizes[i % len(sizes)])
        out.append(text[at : at + size])
        at += size
        i += 1
    return out


def paged(pieces: list[str], surface: RecordingSurface) -> list[str]:
    """The pages a pager fed the same chunks makes, less those deliver() leaves unsent:
    blank to str.strip(), which knows more whitespace (U+2028, U+3000...) than the pager."""
    pager = ReplyPager(surface.limit, surface.measure)
    pages, so_far = [], ""
    for piece in pieces:
        so_far += piece
        pages += pager.update(so_far)[0]
    pages += pager.finish(so_far)
    assert aligns(so_far, pages)  # the pager's invariant, as in test_split_hostile
    return [page for page in pages if page.strip()]


async def send(text: str, sizes: list[int], surface: RecordingSurface) -> list[int]:
    """Deliver `text` streamed in chunks of `sizes`; the messages, in order."""
    pieces = chunks(text, sizes)
    steps: list[tuple[float, ReplyEvent]] = [(0.0, Accepted(REF))]
    steps += [(0.3, piece) for piece in pieces]
    steps.append((0.0, Done(REF, Outcome.OK)))
    result = await deliver(timed(surface.clock, *steps), surface, surface.clock.policy())
    assert result.delivered and not result.broken
    return result.messages


@DELIVERY
@given(text=hostile(big_chance=10), sizes=st.lists(st.integers(1, 4000), min_size=1, max_size=20))
def test_discord_bodies_fit_and_the_messages_hold_the_answer(text: str, sizes: list[int]) -> None:
    surface = DiscordLike(Clock())
    final = [surface.messages[m] for m in asyncio.run(send(text, sizes, surface))]
    assert all(utf16_len(c.text) <= MESSAGE_LIMIT for c in surface.writes())
    assert final == paged(chunks(text, sizes), surface)
    assert bool(final) == bool(text.strip())


@DELIVERY
@given(text=hostile(big_chance=10), sizes=st.lists(st.integers(1, 4000), min_size=1, max_size=20))
@example(text="\r\u2028", sizes=[1])  # blank to deliver(), not to the pager
@example(text="0\n" * 50_000, sizes=[1])  # a progress page renders like a final one
def test_telegram_bodies_are_valid_and_the_messages_hold_the_answer(
    text: str, sizes: list[int]
) -> None:
    surface = TelegramLike(Clock())
    final = [surface.shows[m] for m in asyncio.run(send(text, sizes, surface))]
    assert len(surface.rendered) == len(surface.writes())
    for page, body in surface.rendered:
        assert utf16_len(page) <= surface.limit
        check_message(body.text, tuple(dict(e) for e in body.entities))
    assert final == paged(chunks(text, sizes), surface)
    assert bool(final) == bool(text.strip())
