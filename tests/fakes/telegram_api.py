"""A fake Telegram Bot API server (aiohttp on 127.0.0.1) for adapter tests and benches."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # UTF-16 code units, as Telegram counts them
# Form fields PTB sends as plain strings; every other field is JSON inside the form.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "parse_mode",
        "language_code",
        "action",
        "file_id",
        "description",
        "short_description",
        "name",
    }
)
_ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)


def utf16_len(text: str) -> int:
    """Length of `text` as Telegram measures it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class ApiError(Exception):
    """An error the fake answers with `ok: false`."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass(slots=True)
class BotMessage:
    """A message the bot sent, with its current text and every version it had."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    thread_id: int | None = None
    reply_to: int | None = None
    history: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)


@dataclass(slots=True)
class Failure:
    """A scripted error for the next call of `method` whose params match."""

    method: str
    code: int
    description: str
    retry_after: int | None
    match: Callable[[dict[str, Any]], bool] | None
    times: int


class FakeTelegramAPI:
    """Answers the Bot API methods the adapter uses and records what the bot did.

    Tests push updates (`push_text`, `push_photo`, `push_media`, `push_message`) that the
    bot receives through `getUpdates` (or a webhook POST), and inspect `messages`,
    `calls` and `commands`. `wait_for(predicate)` waits for a condition instead of sleeping.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        username: str = "tertulia_bot",
        bot_id: int = 777000,
        validate: bool = True,
    ) -> None:
        self.token, self.username, self.bot_id = token, username, bot_id
        self.validate = validate  # benches turn off checks they don't need
        self.record_calls = True
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[int, list[BotMessage]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.files: dict[str, tuple[str, bytes]] = {}
        self.unknown: list[str] = []
        self.errors: list[tuple[str, int, str]] = []  # (method, code, description) answered
        self.on_message: Callable[[BotMessage], None] | None = None  # benches time deliveries
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._msg_ids: dict[int, itertools.count[int]] = {}
        self._user_msgs: dict[tuple[int, int], dict[str, Any]] = {}
        self._chat_types: dict[int, str] = {}
        self._failures: list[Failure] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder.base_url` (the token is appended by PTB)."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root}/file/bot"

    async def __aenter__(self) -> FakeTelegramAPI:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.01
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- scripting ---------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        code: int = 400,
        description: str = "Bad Request",
        *,
        retry_after: int | None = None,
        times: int = 1,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (whose params satisfy `match`) with an error."""
        self._failures.append(Failure(method, code, description, retry_after, match, times))

    def pending_failures(self, method: str | None = None) -> int:
        return sum(f.times for f in self._failures if method in (None, f.method))

    def push_text(self, chat_id: int, user_id: int, text: str, **kw: Any) -> dict[str, Any]:
        """Queue a text message; `bot_command` and `mention` entities are added as Telegram does."""
        return self.push_message(chat_id, user_id, text=text, **kw)

    def push_photo(
        self, chat_id: int, user_id: int, data: bytes, caption: str = "", **kw: Any
    ) -> dict[str, Any]:
        """Queue a photo in two sizes: a tiny thumbnail and `data` as the largest size."""
        thumb = self.add_file(b"thumbnail", "photos/thumb.jpg")
        big = self.add_file(data, "photos/photo.jpg")
        photo = [
            {
                "file_id": thumb,
                "file_unique_id": thumb + "u",
                "width": 90,
                "height": 90,
                "file_size": 9,
            },
            {
                "file_id": big,
                "file_unique_id": big + "u",
                "width": 1280,
                "height": 960,
                "file_size": len(data),
            },
        ]
        return self.push_message(chat_id, user_id, caption=caption or None, photo=photo, **kw)

    def push_media(self, chat_id: int, user_id: int, kind: str, **kw: Any) -> dict[str, Any]:
        """Queue a sticker, voice, video, document or audio message."""
        fid = self.add_file(b"\x00" * 16, f"{kind}/file")
        base = {"file_id": fid, "file_unique_id": fid + "u"}
        kinds: dict[str, dict[str, Any]] = {
            "sticker": {
                **base,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            },
            "voice": {**base, "duration": 3},
            "video": {**base, "width": 640, "height": 480, "duration": 3},
            "document": {**base, "file_name": "notes.pdf"},
            "audio": {**base, "duration": 3},
        }
        media = kinds[kind]
        return self.push_message(chat_id, user_id, **{kind: media}, **kw)

    def push_message(self, chat_id: int, user_id: int, **kw: Any) -> dict[str, Any]:
        """Queue a user message (see `make_message`) as an update; return the message dict."""
        msg = self.make_message(chat_id, user_id, **kw)
        self.push_update({"message": msg})
        return msg

    def make_message(
        self,
        chat_id: int,
        user_id: int,
        *,
        text: str | None = None,
        caption: str | None = None,
        chat_type: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        language_code: str | None = "en",
        thread_id: int | None = None,
        first_name: str = "Ana",
        is_bot: bool = False,
        message_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A user message dict (not queued), e.g. for `post_to_webhook`."""
        ctype = (
            chat_type
            or self._chat_types.get(chat_id)
            or ("private" if chat_id > 0 else "supergroup")
        )
        self._chat_types[chat_id] = ctype
        chat: dict[str, Any] = {"id": chat_id, "type": ctype}
        if ctype != "private":
            chat["title"] = "Group"
        if thread_id is not None:
            chat["is_forum"] = True
        sender: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if language_code:
            sender["language_code"] = language_code
        msg: dict[str, Any] = {
            "message_id": message_id or self._next_msg_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            **extra,
        }
        for key, body in (("text", text), ("caption", caption)):
            if body is not None:
                msg[key] = body
                ents = entities if entities is not None else _auto_entities(body)
                if ents:
                    msg["entities" if key == "text" else "caption_entities"] = ents
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        if reply_to is not None:
            msg["reply_to_message"] = self._message_dict(chat_id, reply_to)
        self._user_msgs[(chat_id, msg["message_id"])] = msg
        return msg

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (a fresh update_id is set), e.g. to redeliver a message."""
        update = {**update, "update_id": next(self._update_ids)}
        self._updates.append(update)
        self._notify()
        return update

    def add_file(self, data: bytes, path: str) -> str:
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = (f"{path}.{len(self.files) + 1}", data)
        return file_id

    async def post_to_webhook(self, update: dict[str, Any], secret: str | None = None) -> int:
        """POST an update to the registered webhook as Telegram would; returns the HTTP status."""
        assert self.webhook is not None, "setWebhook was not called"
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        update = {**update, "update_id": next(self._update_ids)}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook["url"], json=update, headers=headers) as resp,
        ):
            return resp.status

    # -- inspection --------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until `predicate()` is true; AssertionError after `timeout` seconds."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(f"condition not met within {timeout}s") from None

    def bot_messages(self, chat_id: int) -> list[BotMessage]:
        return self.messages.get(chat_id, [])

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.bot_messages(chat_id)]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m == method]

    # -- Bot API -----------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        params = await _read_params(request)
        if self.record_calls:
            self.calls.append((method, params))
            self._notify()  # a long poll answers late: waiters may want the call itself
        try:
            self._scripted_failure(method, params)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                self.unknown.append(method)
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except ApiError as exc:
            self.errors.append((method, exc.code, exc.description))
            return _error(exc)
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path and request.match_info["token"] == self.token:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    def _scripted_failure(self, method: str, params: dict[str, Any]) -> None:
        for failure in self._failures:
            if failure.method == method and (failure.match is None or failure.match(params)):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise ApiError(failure.code, failure.description, failure.retry_after)

    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Tertulia",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self._me()

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        scope = p.get("scope") or {"type": "default"}
        key = (json.dumps(scope, sort_keys=True), p.get("language_code") or "")
        for cmd in p["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd["command"]) or not (
                1 <= len(cmd["description"]) <= 256
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[key] = p["commands"]
        return True

    def commands_for(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self.commands.get(key, [])

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = p
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        offset, timeout = int(p.get("offset") or 0), float(p.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: self._updates), timeout)
        return self._updates[: int(p.get("limit") or 100)]

    async def _m_sendChatAction(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_getFile(self, p: dict[str, Any]) -> Any:
        if p["file_id"] not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[p["file_id"]]
        return {
            "file_id": p["file_id"],
            "file_unique_id": p["file_id"] + "u",
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        text, entities = p.get("text", ""), p.get("entities") or []
        self._check_text(text, entities, p.get("parse_mode"))
        reply = p.get("reply_parameters") or {}
        msg = BotMessage(
            chat_id,
            self._next_msg_id(chat_id),
            text,
            entities,
            thread_id=p.get("message_thread_id"),
            reply_to=reply.get("message_id"),
        )
        msg.history.append((text, entities))
        self.messages.setdefault(chat_id, []).append(msg)
        if self.on_message:
            self.on_message(msg)
        return self._message_dict(chat_id, msg.message_id)

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        chat_id, message_id = int(p["chat_id"]), int(p["message_id"])
        text, entities = p.get("text", ""), p.get("entities") or []
        found = [m for m in self.bot_messages(chat_id) if m.message_id == message_id]
        if not found:
            raise ApiError(400, "Bad Request: message to edit not found")
        msg = found[0]
        self._check_text(text, entities, p.get("parse_mode"))
        if (text, entities) == (msg.text, msg.entities):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message "
                "content and reply markup are exactly the same",
            )
        msg.text, msg.entities = text, entities
        msg.history.append((text, entities))
        if self.on_message:
            self.on_message(msg)
        return self._message_dict(chat_id, message_id)

    def _check_text(
        self, text: str, entities: list[dict[str, Any]], parse_mode: str | None = None
    ) -> None:
        if not self.validate:
            return
        if parse_mode:
            _check_markup(text, parse_mode)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        size = utf16_len(text)
        if size > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        for ent in entities:
            off, length = ent.get("offset", -1), ent.get("length", 0)
            if (
                ent.get("type") not in _ENTITY_TYPES
                or off < 0
                or length <= 0
                or off + length > size
            ):
                raise ApiError(400, f"Bad Request: can't parse entities: bad entity {ent}")

    # -- helpers -----------------------------------------------------------------

    def _next_msg_id(self, chat_id: int) -> int:
        return next(self._msg_ids.setdefault(chat_id, itertools.count(1)))

    def _message_dict(self, chat_id: int, message_id: int) -> dict[str, Any]:
        if (chat_id, message_id) in self._user_msgs:
            return self._user_msgs[(chat_id, message_id)]
        ctype = self._chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        for m in self.bot_messages(chat_id):
            if m.message_id == message_id:
                out: dict[str, Any] = {
                    "message_id": m.message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": ctype},
                    "from": self._me(),
                    "text": m.text,
                }
                if m.entities:
                    out["entities"] = m.entities
                if m.thread_id is not None:
                    out["message_thread_id"] = m.thread_id
                    out["is_topic_message"] = True
                return out
        raise ApiError(400, "Bad Request: message not found")

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        # Handlers and push helpers are sync or mid-request: wake waiters from a task.
        asyncio.get_running_loop().create_task(notify())


def _check_markup(text: str, parse_mode: str) -> None:
    # Enough of Telegram's parser to catch hand-made escaping that went wrong.
    if parse_mode.lower() == "html":
        return
    bare = re.sub(r"\\.", "", text)
    for mark in ("*", "_", "`", "~"):
        if bare.count(mark) % 2:
            raise ApiError(400, f"Bad Request: can't parse entities: unclosed {mark}")
    if bare.count("[") != bare.count("]"):
        raise ApiError(400, "Bad Request: can't parse entities: unclosed [")
    if parse_mode == "MarkdownV2":
        for char in ".!-=+#{}|>()":
            if char in bare:
                raise ApiError(
                    400,
                    f"Bad Request: can't parse entities: Character '{char}' "
                    "is reserved and must be escaped with the preceding '\\'",
                )


def _auto_entities(text: str) -> list[dict[str, Any]]:
    # Telegram's server marks commands at the start and @mentions anywhere (UTF-16 offsets).
    ents = []
    for m in re.finditer(r"(?<![\w@])(/[A-Za-z0-9_]+(?:@\w+)?|@\w{3,})", text):
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        if kind == "bot_command" and m.start() != 0:
            continue
        ents.append(
            {"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        )
    return ents


async def _read_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.read()
        return json.loads(body) if body else {}
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue  # uploaded files: the adapter never uploads
        if key in _STRING_FIELDS:
            out[key] = value
        else:
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
    return out


def _error(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.retry_after is not None:
        body["parameters"] = {"retry_after": exc.retry_after}
    return web.json_response(body, status=exc.code)
