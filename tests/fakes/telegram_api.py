"""A fake Telegram Bot API server (aiohttp on 127.0.0.1) for adapter tests and benches."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.telegram_callbacks import CallbackMethods
from tests.fakes.telegram_methods import (
    DROP,
    TEXT_LIMIT,
    ApiError,
    BotMessage,
    Failure,
    SentDocument,
    Upload,
    utf16_len,
)
from tests.fakes.telegram_wire import auto_entities, error_response, outage_page, read_params

__all__ = [
    "TEXT_LIMIT",
    "ApiError",
    "BotMessage",
    "FakeTelegramAPI",
    "SentDocument",
    "Upload",
    "utf16_len",
]

log = logging.getLogger(__name__)


class FakeTelegramAPI(CallbackMethods):
    """Answers the Bot API methods the adapter uses and records what the bot did.

    Tests push updates (`push_text`, `push_photo`, `push_media`, `push_message`) that the
    bot receives through `getUpdates` (or a webhook POST), and inspect `messages`,
    `calls` and `commands`. `wait_for(predicate)` waits for a condition instead of sleeping.
    Trouble is scripted with `fail_next` (the next calls), `fail_for` (an outage of some
    seconds), `drop_next` (connections reset mid-call), `go_down`/`come_back` (connections
    refused) and `hold` (calls kept waiting until the test lets them through).
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        username: str = "tertulia_bot",
        bot_id: int = 777000,
        validate: bool = True,
    ) -> None:
        super().__init__(token, username=username, bot_id=bot_id, validate=validate)
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self.port = 0
        self.file_delay = 0.0  # seconds each file download takes

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
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # for come_back()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.01
        )
        await self._runner.setup()
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
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
        migrate_to: int | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (whose params satisfy `match`) with an error.

        `migrate_to`: the chat became this supergroup (`parameters.migrate_to_chat_id`).
        """
        self._failures.append(
            Failure(method, code, description, retry_after, match, times, migrate_to)
        )

    def fail_for(
        self,
        method: str,
        seconds: float,
        code: int = 502,
        description: str = "Bad Gateway",
        *,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer every call of `method` (whose params satisfy `match`) with an error for a while.

        A 5xx comes as the HTML page a proxy in front of the Bot API sends in an outage.
        """
        until = time.monotonic() + seconds
        page = outage_page(code, description) if code >= 500 else None
        self._failures.append(
            Failure(method, code, description, None, match, 1 << 30, until=until, page=page)
        )

    def drop_next(
        self,
        method: str,
        *,
        times: int = 1,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Cut the connection of the next `times` calls of `method` before anything is done:
        the client sees a reset mid-request and no answer (nothing was sent or changed)."""
        self._failures.append(Failure(method, DROP, "connection reset", None, match, times))

    async def go_down(self) -> None:
        """Stop listening and cut every open connection (long polls included): from now on
        connecting is refused, until `come_back`."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        assert self._runner is not None and self._runner.server is not None
        for handler in self._runner.server.connections:
            if handler.transport is not None:
                handler.transport.abort()

    async def come_back(self) -> None:
        """Listen again on the same port after `go_down`."""
        assert self._runner is not None and self._site is None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()

    def pending_failures(self, method: str | None = None) -> int:
        return sum(f.times for f in self._failures if method in (None, f.method))

    def hold(self, method: str) -> asyncio.Event:
        """Keep calls of `method` waiting (recorded, not answered) until the event is set."""
        gate = self._holds[method] = asyncio.Event()
        return gate

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

    def push_unreadable(self, chat_id: int, user_id: int, text: str) -> dict[str, Any]:
        """Queue a message update python-telegram-bot cannot parse (its date is not a number),
        as a change in the Bot API could bring; return the update."""
        msg = self.make_message(chat_id, user_id, text=text)
        return self.push_update({"message": {**msg, "date": "not-a-number"}})

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
                ents = entities if entities is not None else auto_entities(body)
                if ents:
                    msg["entities" if key == "text" else "caption_entities"] = ents
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        if reply_to is not None:
            msg["reply_to_message"] = self._message_dict(chat_id, reply_to)
        self._user_msgs[(chat_id, msg["message_id"])] = msg
        return msg

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

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.bot_messages(chat_id)]

    def calls_of(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The parameters of every call of `method` (to `chat_id` only, if given)."""
        return [p for m, p in self.calls if m == method and chat_id in (None, p.get("chat_id"))]

    # -- HTTP --------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.errors.append((method, 401, "Unauthorized"))  # not a call: no params read
            return error_response(ApiError(401, "Unauthorized"))
        params = await read_params(request)
        if self.record_calls:
            self.calls.append((method, params))
            self._notify()  # a long poll answers late: waiters may want the call itself
        gate = self._holds.get(method)
        if gate is not None:
            await gate.wait()
        try:
            self._scripted_failure(method, params)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                self.unknown.append(method)
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except ApiError as exc:
            self.errors.append((method, exc.code, exc.description))
            if exc.code == DROP:
                if request.transport is not None:
                    request.transport.abort()  # a reset: this answer is never written
                return web.Response(status=500)
            return error_response(exc)
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if self.file_delay:
            await asyncio.sleep(self.file_delay)
        for file_path, data in self.files.values():
            if file_path == path and request.match_info["token"] == self.token:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    def _scripted_failure(self, method: str, params: dict[str, Any]) -> None:
        now = time.monotonic()
        self._failures = [f for f in self._failures if f.until is None or now < f.until]
        for failure in self._failures:
            if failure.method == method and (failure.match is None or failure.match(params)):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise ApiError(
                    failure.code,
                    failure.description,
                    failure.retry_after,
                    failure.migrate_to,
                    failure.page,
                )
