"""Discord adapter logic on plain values: API base, mentions, media kinds, slash options, drain."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from bot.commands import Command

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024


def api_base(url: str) -> str:
    """A REST base URL with discord.py's `/api/v10` appended unless a version is given."""
    base = url.rstrip("/")
    if not re.search(r"/api/v\d+$", base):
        base += "/api/v10"
    return base


def media_kind(content_type: str | None, size: int, voice: bool) -> str | None:
    """None for an image the model may read, else the kind the engine answers about."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "image/gif":
        return "animation"
    if ctype.startswith("image/"):
        return None if size <= MAX_IMAGE_BYTES else "file"
    if ctype.startswith("video/"):
        return "video"
    if ctype.startswith("audio/"):
        return "voice" if voice else "audio"
    return "file"


def strip_mention(content: str, my_id: int) -> str:
    return re.sub(rf"<@!?{my_id}>", "", content).strip()


def slash_text(name: str, options: Mapping[str, str | None], private: bool) -> tuple[str, bool]:
    """The text the engine reads for a slash command, and whether the answer is ephemeral."""
    if name == "ask":
        return options.get("prompt") or "", False
    values = [v for v in options.values() if v]
    return " ".join([f"/{name}", *values]), private


def command_params(command: Command) -> list[inspect.Parameter]:
    """The command's arguments as keyword parameters: discord.py reads them as options."""
    return [
        inspect.Parameter(
            arg.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str if arg.required else str | None,
            default=inspect.Parameter.empty if arg.required else None,
        )
        for arg in command.args
    ]


def slash_callback(
    name: str, params: Sequence[inspect.Parameter], run: Callable[..., Awaitable[None]]
) -> Callable[..., Coroutine[Any, Any, None]]:
    """A callback whose signature discord.py reads as the command's options."""

    async def callback(interaction: Any, **options: str | None) -> None:
        await run(interaction, name, options)

    first = inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    callback.__signature__ = inspect.Signature([first, *params])  # type: ignore[attr-defined]
    return callback


class Inflight:
    """Replies in flight, so shutdown can let them finish before storage closes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.accepting = True

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count the current task as a reply in flight while the block runs."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    async def drain(self, grace: float) -> None:
        """Take no new messages; give replies in flight `grace` seconds, then cancel them."""
        self.accepting = False
        pending = set(self._tasks)
        if pending:
            log.info("waiting for %d replies in flight", len(pending))
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
