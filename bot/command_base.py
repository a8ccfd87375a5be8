"""What a command is: its description, arguments, handler, and what a handler may use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.access import OPEN, Access
from bot.ports import ChatModel, MemoryStore
from bot.types import Attachment, IncomingMessage, Persona, Redo, User


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a command handler may use: the caller, their language and the engine's parts."""

    msg: IncomingMessage
    user: User
    lang: str
    args: str
    store: MemoryStore
    model: ChatModel
    personas: Mapping[str, Persona]
    default_persona: str
    registry: Mapping[str, Command]
    is_admin: bool = False
    conversation_id: int = 0  # the caller's open conversation in this chat
    access: Access = OPEN  # the operator's allow-lists and limits
    admins: frozenset[str] = frozenset()  # "platform:user_id"
    now: float = 0.0  # when the command arrived (the engine's clock)


@dataclass(frozen=True, slots=True)
class Answer:
    """A command's answer: its text, and a file for the person when there is one."""

    text: str
    attachment: Attachment | None = None
    # The exchange to answer again: the engine streams a new answer in place of `text`.
    redo: Redo | None = None


Handler = Callable[[CommandContext], Awaitable[str | Answer]]


@dataclass(frozen=True, slots=True)
class CommandArg:
    """One optional or required argument, described in each language."""

    name: str
    description: Mapping[str, str]
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    """A command every adapter exposes (Telegram menu, Discord app command, console)."""

    name: str
    description: Mapping[str, str]
    handler: Handler
    args: tuple[CommandArg, ...] = ()
    admin_only: bool = False
    # The answer concerns the user's own data: Discord shows it only to them.
    private: bool = False
    # It shows the person's stored data: refused where the whole group would see it...
    personal: bool = False
    # ...or answered by this instead, where being seen there has a consequence.
    in_public: Handler | None = None


def d(en: str, es: str) -> dict[str, str]:
    """A text in each catalog language."""
    return {"en": en, "es": es}
