"""Discord decisions on plain values: API base, mentions, media kinds, slash options."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from bot.commands import Command
from bot.types import CommandCall, MediaKind

MAX_IMAGE_BYTES = 20 * 1024 * 1024


def api_base(url: str) -> str:
    """A REST base URL with discord.py's `/api/v10` appended unless a version is given."""
    base = url.rstrip("/")
    if not re.search(r"/api/v\d+$", base):
        base += "/api/v10"
    return base


def media_kind(content_type: str | None, size: int, voice: bool) -> MediaKind | None:
    """None for an image the model may read, else the kind the engine answers about."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "image/gif":
        return MediaKind.ANIMATION
    if ctype.startswith("image/"):
        return None if size <= MAX_IMAGE_BYTES else MediaKind.FILE
    if ctype.startswith("video/"):
        return MediaKind.VIDEO
    if ctype.startswith("audio/"):
        return MediaKind.VOICE if voice else MediaKind.AUDIO
    return MediaKind.FILE


def strip_mention(content: str, my_id: int) -> str:
    return re.sub(rf"<@!?{my_id}>", "", content).strip()


def slash_call(name: str, options: Mapping[str, str | None]) -> CommandCall:
    """A slash command as the engine takes it: structured, never turned into text to parse."""
    return CommandCall(name, " ".join(v for v in options.values() if v))


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
