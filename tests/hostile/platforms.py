"""Each platform's page limit and measure, as its delivery surface declares them."""

from __future__ import annotations

from collections.abc import Callable

from adapters.discord.surface import MESSAGE_LIMIT
from adapters.telegram.surface import LIMIT, MARGIN
from bot.split import utf16_len

Measure = Callable[[str], int]

# (name, what the pager is given, measure): Telegram leaves MARGIN for rendering to grow.
PLATFORMS: list[tuple[str, int, Measure]] = [
    ("telegram", LIMIT - MARGIN, utf16_len),
    ("discord", MESSAGE_LIMIT, utf16_len),
]
