"""Discord replies as delivery surfaces: a reply to a message, or an interaction's response."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable
from typing import Any, ClassVar, TypeVar

import aiohttp
import discord

from adapters.delivery import (
    Body,
    ChatGone,
    Delivery,
    Feedback,
    PageGone,
    RateLimited,
    Rejected,
    Transient,
)
from adapters.discord.convert import Action, Press
from bot.split import utf16_len
from bot.types import Attachment

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000  # characters, counted by Discord in UTF-16 code units
TYPING_EVERY = 8.0  # Discord shows "typing" for 10 s per trigger
# Discord's JSON error codes that mean the channel itself is out of reach.
_UNKNOWN_CHANNEL = 10003
T = TypeVar("T")
Sent = discord.Message | discord.WebhookMessage | discord.InteractionMessage


class _Plain:
    """What every Discord surface shares: pages of plain Markdown, Discord renders it."""

    limit = MESSAGE_LIMIT
    typing_every = TYPING_EVERY
    asker: int  # who asked: their id goes into the buttons' custom_ids

    def measure(self, text: str) -> int:
        return utf16_len(text)

    def render(self, page: str) -> Body:
        return Body(page)

    async def edit(self, message: Sent, body: Body) -> None:
        await translated(message.edit(content=body.text, **self.controls(body)), editing=True)

    def controls(self, body: Body) -> dict[str, Any]:
        """The body's buttons as send/edit arguments. A body without them passes nothing,
        so an edit never takes away buttons a message already has."""
        if body.buttons is None:
            return {}
        return {"view": feedback_view(body.buttons, self.asker)}


class MessageSurface(_Plain):
    """A reply to a person's message: the first page quotes it, later pages follow."""

    def __init__(self, message: discord.Message) -> None:
        self._message = message
        self._sent = False
        self.asker = message.author.id

    # Channels with a typing trigger in flight: a second one would queue behind it in
    # discord.py's rate limiter and land after the reply, showing "typing…" for nothing.
    _typing: ClassVar[set[int]] = set()

    async def typing(self) -> None:
        # One trigger per call, never the typing() context manager: its background task is
        # cancelled on exit, and a cancel inside the rate limiter leaves the channel's
        # bucket empty, so the next message waits discord.py's 30 s fallback.
        channel = self._message.channel.id
        if channel in self._typing:
            return
        self._typing.add(channel)
        try:
            await translated(self._message.channel.typing())
        finally:
            self._typing.discard(channel)

    async def send(self, body: Body) -> Sent:
        channel = self._message.channel
        controls = self.controls(body)
        if self._sent:
            return await translated(channel.send(body.text, **controls))
        # Still answer when the person deleted their message meanwhile.
        ref = self._message.to_reference(fail_if_not_exists=False)
        sent = channel.send(body.text, reference=ref, mention_author=False, **controls)
        first = await translated(sent)
        self._sent = True  # only now: a first send retried after a failure still quotes them
        return first

    async def attach(self, file: Attachment) -> None:
        if self._message.guild is not None:
            # A file holds one person's data: never into a channel others read.
            raise Rejected("a file is only sent in a DM or a private answer")
        await translated(self._message.channel.send(file=_file(file)))

    async def finish(self, delivered: Delivery[Sent]) -> None:
        return None


class InteractionSurface(_Plain):
    """A slash command's answer: deferred ("thinking…") at once, then edited, then follow-ups."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool) -> None:
        self._interaction = interaction
        self._ephemeral = ephemeral
        self.asker = interaction.user.id
        self._deferred: asyncio.Task[Any] | None = None
        self._original: discord.InteractionMessage | None = None

    def acknowledge(self) -> None:
        """Start the deferral now, without waiting for it or for this person's earlier replies."""
        # Discord wants an acknowledgement within 3 s, whatever the model does.
        if self._deferred is None:
            defer = self._interaction.response.defer(thinking=True, ephemeral=self._ephemeral)
            self._deferred = asyncio.create_task(translated(defer))

    async def typing(self) -> None:
        await self._acknowledged()  # "thinking…" is the interaction's typing

    async def send(self, body: Body) -> Sent:
        await self._acknowledged()
        controls = self.controls(body)
        if self._original is None:
            original = self._interaction.edit_original_response(content=body.text, **controls)
            self._original = await translated(original)
            return self._original
        followup = self._interaction.followup
        more = followup.send(body.text, ephemeral=self._ephemeral, wait=True, **controls)
        return await translated(more)

    async def attach(self, file: Attachment) -> None:
        if not self._ephemeral and self._interaction.guild_id is not None:
            # A file holds one person's data: in a guild only an ephemeral answer is theirs.
            raise Rejected("a file is only sent in a DM or a private answer")
        await self._acknowledged()
        if self._original is None:
            # No text went out: the file takes the place of "thinking…", as text would.
            original = self._interaction.edit_original_response(attachments=[_file(file)])
            self._original = await translated(original)
            return
        followup = self._interaction.followup
        await translated(followup.send(file=_file(file), ephemeral=self._ephemeral, wait=True))

    async def finish(self, delivered: Delivery[Sent]) -> None:
        if self._original is None and not delivered.broken and self._deferred is not None:
            # Nothing was said (a repeat): don't leave "thinking…" forever. A broken reply
            # keeps it: the session's error notice is about to replace it.
            await self._acknowledged()
            await translated(self._interaction.delete_original_response())

    async def _acknowledged(self) -> None:
        self.acknowledge()
        assert self._deferred is not None
        await self._deferred


def feedback_view(buttons: Feedback, asker: int) -> discord.ui.View:
    """An answer's 👍 👎 ↻ (and ✍ after a 👎) in one row, the rating given marked.

    The view is stopped before it is sent: discord.py then keeps no copy of it (its
    ViewStore would otherwise hold one per answer, forever). Presses are dispatched by
    custom_id instead (adapters.discord.feedback), so they also work after a restart.
    """
    view = discord.ui.View(timeout=None)
    ratings = (
        ("👍", Action.UP, 1, discord.ButtonStyle.success),
        ("👎", Action.DOWN, -1, discord.ButtonStyle.danger),
    )
    for emoji, action, rating, marked in () if buttons.redo_only else ratings:
        chosen = buttons.rating == rating
        # The marked button takes the rating back: one press to undo a slip.
        press = Press(Action.CLEAR if chosen else action, buttons.reply_id, asker)
        style = marked if chosen else discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(emoji=emoji, style=style, custom_id=press.custom_id))
    more = [("↻", Action.REDO)] + ([("✍", Action.WHY)] if buttons.reason else [])
    for emoji, action in more:
        press = Press(action, buttons.reply_id, asker)
        style = discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(emoji=emoji, style=style, custom_id=press.custom_id))
    view.stop()
    return view


def _file(file: Attachment) -> discord.File:
    # A fresh File per attempt: discord.py reads it to the end when it uploads.
    return discord.File(io.BytesIO(file.data), filename=file.name)


async def translated(call: Awaitable[T], *, editing: bool = False) -> T:
    """Await a discord.py call, raising delivery's errors instead of its own."""
    try:
        return await call
    except discord.RateLimited as exc:  # longer than the client's max_ratelimit_timeout
        raise RateLimited(exc.retry_after) from exc
    except discord.Forbidden as exc:  # no access, no permission, DMs closed
        raise ChatGone(_describe(exc)) from exc
    except discord.NotFound as exc:
        if exc.code == _UNKNOWN_CHANNEL:
            raise ChatGone(_describe(exc)) from exc
        if editing:
            raise PageGone(_describe(exc)) from exc  # the message was deleted
        raise Rejected(_describe(exc)) from exc  # e.g. an expired interaction
    except discord.DiscordServerError as exc:  # 5xx after discord.py's own retries
        raise Transient(_describe(exc)) from exc
    except discord.HTTPException as exc:
        if exc.status == 429:  # refused without rate-limit headers: discord.py won't wait
            raise RateLimited(_retry_after(exc)) from exc
        raise Rejected(_describe(exc)) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise Transient(type(exc).__name__) from exc


def _retry_after(exc: discord.HTTPException) -> float:
    try:
        return max(float(exc.response.headers.get("Retry-After", 1.0)), 0.0)
    except (TypeError, ValueError):
        return 1.0


def _describe(exc: discord.HTTPException) -> str:
    return f"{exc.status} {exc.code}: {exc.text[:200]}"
