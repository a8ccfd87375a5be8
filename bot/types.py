"""Values that cross the engine's boundary: incoming messages, turns and images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Image:
    """An image the user sent, as raw bytes with its MIME type."""

    data: bytes
    mime_type: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message for the bot, already converted from the platform's native type.

    The adapter decides whether the message was meant for the bot; the engine only
    sees messages it must answer.
    """

    platform: str
    user_id: str
    chat_id: str
    text: str
    display_name: str = ""
    images: tuple[Image, ...] = ()
    language: str | None = None
    message_id: str | None = None
    is_direct: bool = True
    # A kind of media the adapter could not convert ("sticker", "voice", ...):
    # the engine answers with a localised note on what it can read.
    unsupported: str | None = None
    # False when the text must be read as a question even if it starts with "/"
    # (Discord's /ask prompt:/forget confirm is a question, not the /forget command).
    allow_commands: bool = True


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of context handed to a model."""

    role: Role
    text: str
    images: tuple[Image, ...] = field(default=())
