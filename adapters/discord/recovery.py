"""Where a Discord note about an interrupted answer goes: a new message in the channel."""

from __future__ import annotations

import discord

from adapters.delivery import Body, Delivery, Rejected
from adapters.discord.surface import Sent, _Plain, translated
from bot.types import Attachment, Orphan


class ChannelSurface(_Plain):
    """A channel known only by id (a DM's too), replying to the message the note is about."""

    def __init__(self, client: discord.Client, orphan: Orphan) -> None:
        self._channel = client.get_partial_messageable(int(orphan.chat_id))
        self.asker = int(orphan.user_id)  # the ↻ is theirs: a stranger's press is refused
        quoted = orphan.message_id if orphan.message_id and orphan.message_id.isdigit() else None
        self._reference = (
            None
            if quoted is None
            else discord.MessageReference(
                message_id=int(quoted), channel_id=self._channel.id, fail_if_not_exists=False
            )
        )

    async def typing(self) -> None:
        return None  # a note is sent at once

    async def send(self, body: Body) -> Sent:
        controls = self.controls(body)
        if self._reference is None:
            return await translated(self._channel.send(body.text, **controls))
        sent = self._channel.send(
            body.text, reference=self._reference, mention_author=False, **controls
        )
        return await translated(sent)

    async def attach(self, file: Attachment) -> None:
        raise Rejected("a note has no file")

    async def finish(self, delivered: Delivery[Sent]) -> None:
        return None


def surface(client: discord.Client, orphan: Orphan) -> ChannelSurface:
    return ChannelSurface(client, orphan)
