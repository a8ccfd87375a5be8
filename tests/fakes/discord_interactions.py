"""The fake Discord's application side: slash command sync, interaction callbacks, webhooks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from tests.fakes.discord_records import (
    EPHEMERAL,
    LOADING,
    FakeInteraction,
    FakeMessage,
    check_content,
    error_response,
    json_response,
    misnamed,
)
from tests.fakes.discord_rest import UPLOADS, DiscordState


class InteractionAPI(DiscordState):
    """Answers what the bot does with interactions: callbacks (types 4, 5, 6, 7, 9),
    edits and deletes of the original response, follow-ups; and the command sync."""

    def _routes(self) -> Iterator[tuple[str, str, Callable[..., Any]]]:
        yield from super()._routes()
        yield "POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback
        yield "PATCH", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", self._edit_webhook
        yield "DELETE", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", self._delete_webhook
        yield "POST", r"/webhooks/(\d+)/([^/]+)", self._followup
        yield "PUT", r"/applications/(\d+)(?:/guilds/\d+)?/commands", self._put_commands

    def _interaction_by_token(self, token: str) -> FakeInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def _callback(
        self, request: web.Request, body: Any, iid: str, token: str
    ) -> web.Response:
        inter = self.interactions.get(int(iid))
        if inter is None or inter.token != token:
            return error_response(404, 10062, "Unknown interaction")
        if inter.callback_type is not None:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        kind, data = body.get("type"), body.get("data") or {}
        if bad := self._refused_callback(inter, kind, data):
            return bad
        inter.answered = time.monotonic()
        inter.callback_type, inter.callback = kind, data
        flags = int(data.get("flags") or 0)
        inter.ephemeral = bool(flags & EPHEMERAL)
        msg: FakeMessage | None = None
        if kind in (4, 5):  # a new message: the interaction's original response
            content = data.get("content", "") if kind == 4 else ""
            flags |= LOADING if kind == 5 else 0
            components = data.get("components") if kind == 4 else None
            msg = self._store(inter.channel_id, content, flags=flags, components=components)
            msg.interaction_id, inter.original_id = inter.id, msg.id
        elif kind in (6, 7):  # the message the component was on is the original response
            inter.original_id = inter.message_id
            msg = self.messages[inter.message_id or 0]
            inter.ephemeral = bool(msg.flags & EPHEMERAL)
            if kind == 7:
                self._update(msg, data)
        elif kind == 9:
            inter.modal = data
        if "with_response" not in request.query:
            return web.Response(status=204)
        answer: dict[str, Any] = {"id": iid, "type": inter.kind}
        resource: dict[str, Any] = {"type": kind}
        if msg is not None and kind != 6:  # a deferred update shows nothing yet
            answer |= {
                "response_message_id": str(msg.id),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": inter.ephemeral,
            }
            resource["message"] = self._message_json(msg)
        return json_response({"interaction": answer, "resource": resource})

    def _refused_callback(
        self, inter: FakeInteraction, kind: Any, data: dict[str, Any]
    ) -> web.Response | None:
        """Discord's refusal of a callback type this interaction may not have, if any."""
        # 6 and 7 change the message a component was on; a form cannot open another form.
        on_message = inter.kind in (3, 5) and inter.message_id in self.messages
        allowed = {4, 5} | ({6, 7} if on_message else set()) | ({9} if inter.kind != 5 else set())
        if kind not in allowed:
            return error_response(400, 50035, f"Invalid Form Body: callback type {kind}")
        if kind == 4 and (bad := check_content(data.get("content"))):
            return bad
        if kind == 7 and "content" in data and (bad := check_content(data.get("content"))):
            return bad
        if kind == 9 and not (
            data.get("custom_id") and data.get("title") and data.get("components")
        ):
            return error_response(400, 50035, "Invalid Form Body: modal")
        return None

    def _webhook_message(self, token: str, mid: str) -> FakeMessage | None:
        inter = self._interaction_by_token(token)
        if inter is None:
            return None
        target = inter.original_id if mid == "@original" else int(mid)
        return self.messages.get(target) if target else None

    async def _edit_webhook(
        self, request: web.Request, body: Any, app: str, token: str, mid: str
    ) -> web.Response:
        msg = self._webhook_message(token, mid)
        if msg is None:
            return error_response(404, 10008, "Unknown Message")
        return self._update(msg, body, request[UPLOADS])

    async def _delete_webhook(
        self, request: web.Request, body: Any, app: str, token: str, mid: str
    ) -> web.Response:
        msg = self._webhook_message(token, mid)
        if msg is None:
            return error_response(404, 10008, "Unknown Message")
        del self.messages[msg.id]
        return web.Response(status=204)

    async def _followup(
        self, request: web.Request, body: Any, app: str, token: str
    ) -> web.Response:
        inter = self._interaction_by_token(token)
        if inter is None:
            return error_response(404, 10015, "Unknown Webhook")
        files = request[UPLOADS]
        if bad := misnamed(body, files) or check_content(body.get("content"), files=bool(files)):
            return bad
        flags = int(body.get("flags") or 0)
        content, components = body.get("content") or "", body.get("components")
        msg = self._store(inter.channel_id, content, files, flags=flags, components=components)
        msg.interaction_id = inter.id
        inter.followups.append(msg.id)
        return json_response(self._message_json(msg))

    async def _put_commands(self, request: web.Request, body: Any, app: str) -> web.Response:
        path = request.path.removeprefix("/api/v10")
        self.commands[path] = body
        return json_response(
            [
                {**c, "id": str(self.snowflake()), "application_id": app, "version": "1"}
                for c in body
            ]
        )
