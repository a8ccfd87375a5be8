"""The fake Discord's state, payloads and channel REST API (`/api/v10`), as discord.py 2.x expects."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.discord_records import (
    DROP,
    LOADING,
    TOKEN,
    Failure,
    FakeFile,
    FakeInteraction,
    FakeMessage,
    TypingRequest,
    check_content,
    error_response,
    json_response,
    misnamed,
    read_body,
)

log = logging.getLogger(__name__)

UPLOADS = web.RequestKey("uploads", list[FakeFile])  # read with the body, for handlers


class DiscordState:
    """What the fake Discord knows (one bot, one guild) and its REST handlers."""

    def __init__(self, *, guild_id: int = 900, channel_ids: tuple[int, ...] = (901, 902)) -> None:
        self._ids = itertools.count(10**17)
        self.bot_id = 1001
        self.app_id = 1002
        self.guild_id = guild_id
        self.channel_ids = channel_ids
        self.messages: dict[int, FakeMessage] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.calls: list[tuple[str, str, Any]] = []  # (method, path, json body)
        self.record_calls = True
        # Called with each bot message whenever its content is set (benchmarks hook in here).
        self.on_content: Callable[[FakeMessage], None] | None = None
        self.typing: dict[int, int] = {}
        self.typing_requests: list[TypingRequest] = []
        self.typing_hold = 0.0  # seconds each typing request is held open before its 204
        self.failures: list[Failure] = []  # checked in order before any route
        self.commands: dict[str, list[dict[str, Any]]] = {}  # PUT path -> payload
        self.attachments: dict[str, bytes] = {}
        self.attachment_delay = 0.0  # seconds the CDN takes to serve a file
        self.identify_close: int | None = None  # e.g. 4014: a privileged intent not enabled
        self.identifies = 0
        self.resumes = 0
        self.gateway_down = False  # upgrades to the gateway socket are refused with a 503
        self.gateway_refused = 0
        self.session_id = secrets.token_hex(8)
        self._seq = 0
        self._sent: list[dict[str, Any]] = []  # dispatched events, replayed on RESUME
        self._ws: web.WebSocketResponse | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def snowflake(self) -> int:
        return next(self._ids)

    def fail(self, method: str, pattern: str, status: int, **kw: Any) -> Failure:
        """Answer requests matching `method` and `pattern` with an error (see Failure)."""
        failure = Failure(method, pattern, status, **kw)
        self.failures.append(failure)
        return failure

    def _failure(self, method: str, path: str, body: Any) -> Failure | None:
        for failure in self.failures:
            if failure.matches(method, path, body):
                failure.hits += 1
                if failure.times is not None and failure.hits >= failure.times:
                    self.failures.remove(failure)
                return failure
        return None

    def calls_to(self, method: str, pattern: str) -> list[Any]:
        """The JSON bodies of the recorded calls matching `method` and the path `pattern`."""
        return [b for m, p, b in self.calls if m == method and re.fullmatch(pattern, p)]

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- payloads ------------------------------------------------------------------

    def user(self, user_id: int, name: str = "", *, bot: bool = False) -> dict[str, Any]:
        name = name or f"user{user_id}"
        return {
            "id": str(user_id),
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
        }

    def _bot_user(self) -> dict[str, Any]:
        return self.user(self.bot_id, "tertulia", bot=True)

    def _message_json(self, m: FakeMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(m.id),
            "channel_id": str(m.channel_id),
            "type": 19 if m.reply_to else 0,
            "content": m.content,
            "author": self._bot_user() if m.author_id == self.bot_id else self.user(m.author_id),
            "mentions": [],
            "attachments": m.attachments,
            "embeds": [],
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "flags": m.flags,
            "components": m.components,
        }
        if m.reply_to:
            data["message_reference"] = {
                "message_id": str(m.reply_to),
                "channel_id": str(m.channel_id),
            }
        return data

    def attachment(self, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        """Register a file served by the fake and return its attachment payload."""
        aid = self.snowflake()
        self.attachments[f"{aid}/{filename}"] = data
        url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def bot_messages(self, channel_id: int | None = None) -> list[FakeMessage]:
        return [
            m
            for m in self.messages.values()
            if m.author_id == self.bot_id and channel_id in (None, m.channel_id)
        ]

    # -- REST ----------------------------------------------------------------------

    async def _attachment(self, request: web.Request) -> web.Response:
        key = f"{request.match_info['id']}/{request.match_info['name']}"
        await asyncio.sleep(self.attachment_delay)
        if key not in self.attachments:
            return web.Response(status=404)
        return web.Response(body=self.attachments[key], content_type="application/octet-stream")

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await read_body(request)
        request[UPLOADS] = files
        if self.record_calls:
            self.calls.append((request.method, path, body))
        if request.headers.get("Authorization", "") not in (f"Bot {TOKEN}", ""):
            return error_response(401, 0, "401: Unauthorized")
        if failed := self._failure(request.method, path, body):
            await self._touch()
            if failed.status == DROP and request.transport is not None:
                request.transport.abort()  # a reset: this answer is never written
            return failed.response() if failed.status != DROP else web.Response(status=500)
        for method, pattern, handler in self._routes():
            if request.method == method and (match := re.fullmatch(pattern, path)):
                response: web.StreamResponse = await handler(request, body or {}, *match.groups())
                await self._touch()
                return response
        log.warning("fake discord: unhandled %s %s", request.method, path)
        return error_response(404, 0, "404: Not Found")

    def _routes(self) -> Iterator[tuple[str, str, Callable[..., Any]]]:
        yield "GET", r"/users/@me", self._me
        yield "GET", r"/oauth2/applications/@me", self._application
        yield "GET", r"/gateway(?:/bot)?", self._gateway_info
        yield "POST", r"/channels/(\d+)/typing", self._typing
        yield "POST", r"/channels/(\d+)/messages", self._create_message
        yield "PATCH", r"/channels/(\d+)/messages/(\d+)", self._edit_message

    async def _me(self, request: web.Request, body: Any) -> web.Response:
        return json_response(self._bot_user())

    async def _application(self, request: web.Request, body: Any) -> web.Response:
        return json_response(
            {
                "id": str(self.app_id),
                "name": "tertulia",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "00",
                "owner": self.user(1, "owner"),
                "flags": 0,
            }
        )

    async def _gateway_info(self, request: web.Request, body: Any) -> web.Response:
        return json_response({"url": self.gateway_url, "shards": 1})

    async def _typing(self, request: web.Request, body: Any, channel: str) -> web.Response:
        self.typing[int(channel)] = self.typing.get(int(channel), 0) + 1
        call = TypingRequest(int(channel), time.monotonic())
        self.typing_requests.append(call)
        try:
            if self.typing_hold:
                await self._touch()
                await asyncio.sleep(self.typing_hold)
        finally:
            call.finished = time.monotonic()
            # A client that cancelled its request closed the connection meanwhile.
            transport = request.transport
            call.completed = transport is not None and not transport.is_closing()
        return web.Response(status=204)

    def _store(
        self, channel_id: int, content: str, files: list[FakeFile] | None = None, **kw: Any
    ) -> FakeMessage:
        kw["components"] = list(kw.get("components") or [])
        msg = FakeMessage(self.snowflake(), channel_id, self.bot_id, content, **kw)
        msg.history.append(content)
        self._attach(msg, files or [])
        self.messages[msg.id] = msg
        if self.on_content:
            self.on_content(msg)
        return msg

    def _attach(self, msg: FakeMessage, files: list[FakeFile]) -> None:
        """Give `msg` these files (an edit's replace the old ones), served back as attachments."""
        msg.files = list(files)
        msg.attachments = [self.attachment(f.data, f.filename, f.content_type) for f in files]

    def _update(
        self, msg: FakeMessage, body: dict[str, Any], files: list[FakeFile] | None = None
    ) -> web.Response:
        if files and (bad := misnamed(body, files)):
            return bad
        content = body.get("content")
        if "content" in body and (bad := check_content(content, files=bool(files or msg.files))):
            return bad
        if files:
            self._attach(msg, files)
            msg.flags &= ~LOADING
        if "components" in body:  # absent: the message keeps its components
            msg.components = list(body["components"] or [])
        if "content" in body:
            msg.content = content or ""
            msg.history.append(msg.content)
            msg.flags &= ~LOADING
            if self.on_content:
                self.on_content(msg)
        return json_response(self._message_json(msg))

    async def _create_message(self, request: web.Request, body: Any, channel: str) -> web.Response:
        files = request[UPLOADS]
        if bad := misnamed(body, files) or check_content(body.get("content"), files=bool(files)):
            return bad
        ref = body.get("message_reference") or {}
        reply_to = int(ref["message_id"]) if ref.get("message_id") else None
        flags = int(body.get("flags") or 0)
        content = body.get("content") or ""
        components = body.get("components")
        msg = self._store(
            int(channel), content, files, reply_to=reply_to, flags=flags, components=components
        )
        return json_response(self._message_json(msg))

    async def _edit_message(
        self, request: web.Request, body: Any, channel: str, mid: str
    ) -> web.Response:
        msg = self.messages.get(int(mid))
        if msg is None or msg.channel_id != int(channel) or msg.author_id != self.bot_id:
            return error_response(404, 10008, "Unknown Message")
        return self._update(msg, body, request[UPLOADS])
