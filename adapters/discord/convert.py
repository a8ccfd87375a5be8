"""Discord decisions on plain values: API base, mentions, media kinds, slash options, custom_ids."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.commands import Command
from bot.types import CommandCall, MediaKind

PLATFORM = "discord"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
FEEDBACK = "tertulia:fb:"  # the prefix of every feedback control's custom_id
REASON_FIELD = "reason"  # the custom_id of the text input in the 👎 reason form
_PRESS = re.compile(rf"{FEEDBACK}([a-z]+):(\d{{1,19}}):(\d{{1,20}})")


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


class Action(StrEnum):
    """What a feedback control does when pressed (or, for REASON, submitted)."""

    UP = "up"  # 👍
    DOWN = "down"  # 👎
    CLEAR = "clear"  # the marked 👍 or 👎 again: take the rating back
    REDO = "redo"  # ↻
    WHY = "why"  # ✍: open the reason form
    REASON = "reason"  # the reason form, submitted


@dataclass(frozen=True, slots=True)
class Press:
    """A feedback control as its custom_id names it: what it does, to which answer, and
    who asked for that answer (so a stranger's ↻ is answered only to them)."""

    action: Action
    reply_id: int
    asker: int

    @property
    def custom_id(self) -> str:
        # At most 12 + 6 + 19 + 20 + 2 characters: well under Discord's 100.
        return f"{FEEDBACK}{self.action}:{self.reply_id}:{self.asker}"


_ACTIONS = frozenset(a.value for a in Action)


def feedback_press(custom_id: str) -> Press | None:
    """The feedback control a custom_id names; None when it is not a well-formed one."""
    found = _PRESS.fullmatch(custom_id)
    if found is None or found[1] not in _ACTIONS:
        return None
    return Press(Action(found[1]), int(found[2]), int(found[3]))


def submitted_value(components: Sequence[Mapping[str, Any]], custom_id: str) -> str | None:
    """A text input's value in a modal submission, found by its custom_id.

    Inputs arrive inside action rows (`components`) or, in newer forms, labels (`component`).
    """
    for component in components:
        if component.get("custom_id") == custom_id and "value" in component:
            value = component["value"]
            return value if isinstance(value, str) else None
        inner = list(component.get("components") or [])
        if isinstance(component.get("component"), Mapping):
            inner.append(component["component"])
        if (found := submitted_value(inner, custom_id)) is not None:
            return found
    return None
