"""A fake Discord REST API and gateway on 127.0.0.1 for discord.py, at the wire protocol."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_interactions import InteractionAPI
from tests.fakes.discord_records import (
    TOKEN,
    Failure,
    FakeFile,
    FakeInteraction,
    FakeMessage,
    TypingRequest,
    utf16_units,
)

__all__ = [
    "TOKEN",
    "Failure",
    "FakeDiscord",
    "FakeFile",
    "FakeInteraction",
    "FakeMessage",
    "TypingRequest",
    "utf16_units",
]

log = logging.getLogger(__name__)


# @everyone's permissions: view channels, send messages (and in threads), read history.
EVERYONE = str((1 << 10) | (1 << 11) | (1 << 16) | (1 << 38))
SEND_MESSAGES = 1 << 11


class FakeDiscord(InteractionAPI):
    """Serves `/api/v10` and a `/gateway` websocket for one bot, one guild and its channels.

    Tests push gateway events (`dm`, `guild_message`, `slash`, `press`, `submit`), drop
    the socket (`drop_connection`, `gateway_down`), script REST errors (`fail`) and read
    what the bot did (`messages`, `calls`, `commands`, `interactions`).
    """

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (re-checked on every change) and return it."""

        async def check() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(check(), timeout)

    # -- gateway -------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:  # Discord's side of an outage: no socket for now
            self.gateway_refused += 1
            await self._touch()
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                break
            msg = json.loads(frame.data)
            op, data = msg.get("op"), msg.get("d")
            if op == 1:
                await ws.send_json({"op": 11})
            elif op == 2:
                await self._identify(ws, data)
            elif op == 6:
                await self._resume(ws, data)
        if self._ws is ws:
            self._ws = None
        await self._touch()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != TOKEN:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.identify_close is not None:
            await ws.close(code=self.identify_close, message=b"Disallowed intent(s).")
            return
        self.identifies += 1
        self.session_id = secrets.token_hex(8)
        self._seq, self._sent = 0, []
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self._bot_user(),
                "session_id": self.session_id,
                "resume_gateway_url": self.gateway_url,
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "application": {"id": str(self.app_id), "flags": 0},
            },
        )
        channels = [self.channel_json(c) for c in self.channel_ids]
        await self.dispatch(
            "GUILD_CREATE",
            {
                "id": str(self.guild_id),
                "name": "Fake guild",
                "owner_id": "1",
                "member_count": 3,
                "channels": channels,
                "threads": [],
                # @everyone (the guild's id) may read and write; the bot is a member.
                "roles": [{"id": str(self.guild_id), "name": "@everyone", "permissions": EVERYONE}],
                "members": [
                    {
                        "user": self._bot_user(),
                        "roles": [],
                        "joined_at": "2026-01-01T00:00:00Z",
                        "flags": 0,
                        "deaf": False,
                        "mute": False,
                    }
                ],
                "emojis": [],
                "stickers": [],
                "features": [],
                "preferred_locale": "en-US",
            },
        )

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != TOKEN or data.get("session_id") != self.session_id:
            await ws.send_json({"op": 9, "d": False})
            return
        self.resumes += 1
        missed = [e for e in self._sent if e["s"] > (data.get("seq") or 0)]
        for event in missed:  # Discord replays what the client missed, then RESUMED
            await ws.send_json(event)
        await self.dispatch("RESUMED", {})

    def channel_json(self, channel_id: int, *, deny: int = 0) -> dict[str, Any]:
        """A guild text channel; `deny` takes permission bits from @everyone there."""
        overwrites = [{"id": str(self.guild_id), "type": 0, "allow": "0", "deny": str(deny)}]
        return {
            "id": str(channel_id),
            "guild_id": str(self.guild_id),
            "type": 0,
            "name": f"chan{channel_id}",
            "position": self.channel_ids.index(channel_id),
            "permission_overwrites": overwrites if deny else [],
        }

    async def set_channel_permissions(self, channel_id: int, *, deny: int = 0) -> None:
        """Change what @everyone (the bot included) may do in a channel: CHANNEL_UPDATE."""
        await self.dispatch("CHANNEL_UPDATE", self.channel_json(channel_id, deny=deny))

    async def dispatch(self, name: str, data: dict[str, Any]) -> None:
        """Send a gateway event; kept for replay when the socket is down or resumed."""
        self._seq += 1
        event = {"op": 0, "t": name, "s": self._seq, "d": data}
        self._sent.append(event)
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_json(event)
        await self._touch()

    async def wait_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self.wait_for(lambda: self._ws is not None and self.identifies > 0, timeout)

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway socket the way a network blip or Discord restart would."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close(code=code)

    # -- pushing events ------------------------------------------------------------

    async def dm(self, user_id: int, content: str, **kw: Any) -> int:
        channel_id = kw.pop("channel_id", 5000 + user_id)
        return await self.post_user_message(user_id, channel_id, content, guild=False, **kw)

    async def guild_message(self, user_id: int, channel_id: int, content: str, **kw: Any) -> int:
        return await self.post_user_message(user_id, channel_id, content, guild=True, **kw)

    async def post_user_message(
        self,
        user_id: int,
        channel_id: int,
        content: str,
        *,
        guild: bool,
        mention: bool = False,
        reply_to: int | None = None,
        attachments: tuple[dict[str, Any], ...] = (),
        message_id: int | None = None,
        author: dict[str, Any] | None = None,
    ) -> int:
        """Store a user's message and push MESSAGE_CREATE; `message_id` re-sends a duplicate.

        `author` replaces the author's JSON as sent: a malformed one makes an event
        discord.py cannot parse.
        """
        mid = message_id or self.snowflake()
        msg = FakeMessage(mid, channel_id, user_id, content, reply_to=reply_to)
        self.messages.setdefault(mid, msg)
        data = self._message_json(msg)
        data["author"] = self.user(user_id) if author is None else author
        data["attachments"] = list(attachments)
        if mention:
            data["mentions"] = [self._bot_user()]
        if reply_to and reply_to in self.messages:
            data["referenced_message"] = self._message_json(self.messages[reply_to])
        if guild:
            data["guild_id"] = str(self.guild_id)
            data["member"] = {
                "roles": [],
                "joined_at": data["timestamp"],
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        await self.dispatch("MESSAGE_CREATE", data)
        return mid

    async def slash(
        self,
        name: str,
        options: dict[str, str] | None = None,
        *,
        user_id: int = 42,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Push INTERACTION_CREATE for `/name`; in the guild unless `channel_id` is a DM's."""
        opts = [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]
        data = {"id": str(self.snowflake()), "name": name, "type": 1, "options": opts}
        channel_id = channel_id or self.channel_ids[0]
        return await self._interaction(2, data, user_id, channel_id, locale)

    async def press(
        self, message_id: int, custom_id: str, *, user_id: int = 42, locale: str = "en-US"
    ) -> FakeInteraction:
        """Push a button press (a type 3 interaction) on one of the bot's messages."""
        msg = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interaction(3, data, user_id, msg.channel_id, locale, msg)

    async def submit(
        self,
        opened: FakeInteraction,
        values: dict[str, str],
        *,
        user_id: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Push the form `opened` answered with (type 9), filled in: a type 5 interaction.

        Like Discord, every text input of the form comes back, with `values` by custom_id.
        """
        form = opened.modal
        assert form is not None, "the bot opened no form for this interaction"
        rows = [
            {
                "type": 1,
                "components": [
                    {
                        "type": 4,
                        "custom_id": c["custom_id"],
                        "value": values.get(c["custom_id"], ""),
                    }
                    for c in row["components"]
                ],
            }
            for row in form["components"]
        ]
        data = {"custom_id": form["custom_id"], "components": rows}
        user_id = opened.user_id if user_id is None else user_id
        shown = self.messages.get(opened.message_id or 0)  # a form opened from a button
        return await self._interaction(5, data, user_id, opened.channel_id, locale, shown)

    async def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        user_id: int,
        channel_id: int,
        locale: str,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        """Push INTERACTION_CREATE of type `kind`: in the guild unless `channel_id` is a DM's."""
        guild = channel_id in self.channel_ids
        inter = FakeInteraction(self.snowflake(), secrets.token_hex(16), channel_id, kind, user_id)
        inter.message_id = message.id if message is not None else None
        self.interactions[inter.id] = inter
        payload: dict[str, Any] = {
            "id": str(inter.id),
            "application_id": str(self.app_id),
            "type": kind,
            "token": inter.token,
            "version": 1,
            "data": data,
            "channel": {"id": str(channel_id), "type": 0 if guild else 1, "name": "c"},
            "channel_id": str(channel_id),
            "locale": locale,
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": "0",
        }
        if message is not None:
            payload["message"] = self._message_json(message)
        if guild:
            payload["guild_id"] = str(self.guild_id)
            payload["member"] = {
                "user": self.user(user_id),
                "roles": [],
                "joined_at": datetime.now(UTC).isoformat(),
                "deaf": False,
                "mute": False,
                "permissions": "0",
                "flags": 0,
            }
        else:
            payload["user"] = self.user(user_id)
            payload["channel"]["recipients"] = [self.user(user_id)]
        inter.pushed = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)
        return inter
