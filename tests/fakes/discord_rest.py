"""The fake Discord's state, payloads and REST API (`/api/v10`), as discord.py 2.x expects them."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

TOKEN = "fake-discord-token"
MAX_CONTENT = 2000
_EPHEMERAL = 64
_LOADING = 128


@dataclass(slots=True)
class FakeMessage:
    """A message stored by the fake; `history` holds every content it has had, in order."""

    id: int
    channel_id: int
    author_id: int
    content: str
    flags: int = 0
    reply_to: int | None = None
    interaction_id: int | None = None
    history: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FakeInteraction:
    """A slash command pushed by a test and what the bot answered to it."""

    id: int
    token: str
    channel_id: int
    callback_type: int | None = None
    ephemeral: bool = False
    original_id: int | None = None
    followups: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Failure:
    """A scripted refusal: requests matching it get this error instead of an answer.

    A 429 carries `retry_after` in its JSON body and its `Retry-After` header; discord.py
    waits and retries a 429 itself only when it also has a `Via` header (`via=True`).
    """

    method: str
    pattern: str  # a regex on the path after /api/v10
    status: int
    code: int = 0
    message: str = ""
    times: int | None = 1  # None: until removed from `failures`
    retry_after: float = 1.0
    via: bool = False
    when: Callable[[Any], bool] | None = None  # a predicate on the JSON body
    hits: int = 0

    def matches(self, method: str, path: str, body: Any) -> bool:
        return (
            method == self.method
            and re.fullmatch(self.pattern, path) is not None
            and (self.when is None or self.when(body))
        )

    def response(self) -> web.Response:
        if self.status != 429:
            return _error(self.status, self.code, self.message or f"{self.status}: refused")
        body = {
            "message": self.message or "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": False,
            "code": self.code,
        }
        headers = {"Retry-After": f"{self.retry_after:g}"}
        if self.via:
            headers["Via"] = "1.1 google"
        return _json(body, 429, headers)


@dataclass(slots=True)
class TypingRequest:
    """One POST /channels/{id}/typing; `completed` is False when the client hung up on it."""

    channel_id: int
    started: float
    finished: float | None = None
    completed: bool | None = None


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py compares the header exactly: aiohttp's json_response adds a charset.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def utf16_units(text: str) -> int:
    """Discord's length of a message: UTF-16 code units, as the bot counts them."""
    return len(text.encode("utf-16-le")) // 2


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status)


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

    def _failure(self, method: str, path: str, body: Any) -> web.Response | None:
        for failure in self.failures:
            if failure.matches(method, path, body):
                failure.hits += 1
                if failure.times is not None and failure.hits >= failure.times:
                    self.failures.remove(failure)
                return failure.response()
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
            "attachments": [],
            "embeds": [],
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "flags": m.flags,
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
        body: Any = None
        if request.can_read_body and request.content_type == "application/json":
            body = await request.json()
        if self.record_calls:
            self.calls.append((request.method, path, body))
        if request.headers.get("Authorization", "") not in (f"Bot {TOKEN}", ""):
            return _error(401, 0, "401: Unauthorized")
        if failed := self._failure(request.method, path, body):
            await self._touch()
            return failed
        for method, pattern, handler in self._routes():
            if request.method == method and (match := re.fullmatch(pattern, path)):
                response: web.StreamResponse = await handler(request, body or {}, *match.groups())
                await self._touch()
                return response
        log.warning("fake discord: unhandled %s %s", request.method, path)
        return _error(404, 0, "404: Not Found")

    def _routes(self) -> Iterator[tuple[str, str, Callable[..., Any]]]:
        yield "GET", r"/users/@me", self._me
        yield "GET", r"/oauth2/applications/@me", self._application
        yield "GET", r"/gateway(?:/bot)?", self._gateway_info
        yield "POST", r"/channels/(\d+)/typing", self._typing
        yield "POST", r"/channels/(\d+)/messages", self._create_message
        yield "PATCH", r"/channels/(\d+)/messages/(\d+)", self._edit_message
        yield "POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback
        yield "PATCH", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", self._edit_webhook
        yield "DELETE", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", self._delete_webhook
        yield "POST", r"/webhooks/(\d+)/([^/]+)", self._followup
        yield "PUT", r"/applications/(\d+)(?:/guilds/\d+)?/commands", self._put_commands

    async def _me(self, request: web.Request, body: Any) -> web.Response:
        return _json(self._bot_user())

    async def _application(self, request: web.Request, body: Any) -> web.Response:
        return _json(
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
        return _json({"url": self.gateway_url, "shards": 1})

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

    def _check_content(self, content: Any) -> web.Response | None:
        if not isinstance(content, str) or not content.strip():
            return _error(400, 50006, "Cannot send an empty message")
        if utf16_units(content) > MAX_CONTENT:
            return _json(
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}},
                },
                400,
            )
        return None

    def _store(self, channel_id: int, content: str, **kw: Any) -> FakeMessage:
        msg = FakeMessage(self.snowflake(), channel_id, self.bot_id, content, **kw)
        msg.history.append(content)
        self.messages[msg.id] = msg
        if self.on_content:
            self.on_content(msg)
        return msg

    def _update(self, msg: FakeMessage, body: dict[str, Any]) -> web.Response:
        if "content" in body:
            if bad := self._check_content(body["content"]):
                return bad
            msg.content = body["content"]
            msg.history.append(msg.content)
            msg.flags &= ~_LOADING
            if self.on_content:
                self.on_content(msg)
        return _json(self._message_json(msg))

    async def _create_message(self, request: web.Request, body: Any, channel: str) -> web.Response:
        if bad := self._check_content(body.get("content")):
            return bad
        ref = body.get("message_reference") or {}
        reply_to = int(ref["message_id"]) if ref.get("message_id") else None
        return _json(
            self._message_json(self._store(int(channel), body["content"], reply_to=reply_to))
        )

    async def _edit_message(
        self, request: web.Request, body: Any, channel: str, mid: str
    ) -> web.Response:
        msg = self.messages.get(int(mid))
        if msg is None or msg.channel_id != int(channel) or msg.author_id != self.bot_id:
            return _error(404, 10008, "Unknown Message")
        return self._update(msg, body)

    def _interaction_by_token(self, token: str) -> FakeInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def _callback(
        self, request: web.Request, body: Any, iid: str, token: str
    ) -> web.Response:
        inter = self.interactions.get(int(iid))
        if inter is None or inter.token != token:
            return _error(404, 10062, "Unknown interaction")
        if inter.callback_type is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind, data = body.get("type"), body.get("data") or {}
        flags = int(data.get("flags") or 0)
        inter.callback_type, inter.ephemeral = kind, bool(flags & _EPHEMERAL)
        if kind == 4 and (bad := self._check_content(data.get("content"))):
            return bad
        content = data.get("content", "") if kind == 4 else ""
        msg = self._store(inter.channel_id, content, flags=flags | (_LOADING if kind == 5 else 0))
        msg.interaction_id, inter.original_id = inter.id, msg.id
        if "with_response" not in request.query:
            return web.Response(status=204)
        return _json(
            {
                "interaction": {
                    "id": iid,
                    "type": 2,
                    "response_message_id": str(msg.id),
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": inter.ephemeral,
                },
                "resource": {"type": kind, "message": self._message_json(msg)},
            }
        )

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
            return _error(404, 10008, "Unknown Message")
        return self._update(msg, body)

    async def _delete_webhook(
        self, request: web.Request, body: Any, app: str, token: str, mid: str
    ) -> web.Response:
        msg = self._webhook_message(token, mid)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        del self.messages[msg.id]
        return web.Response(status=204)

    async def _followup(
        self, request: web.Request, body: Any, app: str, token: str
    ) -> web.Response:
        inter = self._interaction_by_token(token)
        if inter is None:
            return _error(404, 10015, "Unknown Webhook")
        if bad := self._check_content(body.get("content")):
            return bad
        msg = self._store(inter.channel_id, body["content"], flags=int(body.get("flags") or 0))
        msg.interaction_id = inter.id
        inter.followups.append(msg.id)
        return _json(self._message_json(msg))

    async def _put_commands(self, request: web.Request, body: Any, app: str) -> web.Response:
        path = request.path.removeprefix("/api/v10")
        self.commands[path] = body
        return _json(
            [
                {**c, "id": str(self.snowflake()), "application_id": app, "version": "1"}
                for c in body
            ]
        )
