"""Telegram adapter: python-telegram-bot handlers, update conversion and the process entry point."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import signal
from collections.abc import AsyncGenerator, Awaitable
from contextlib import aclosing
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    Document,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    PhotoSize,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import (
    BadRequest,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, RequestData

from adapters.telegram_http import HttpFailure, HttpSession, HttpTimeout
from adapters.telegram_stream import Body, RateLimited, Rejected, ReplyStream, Transient
from bot.engine import Engine
from bot.i18n import LANGS
from bot.types import Image, IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # larger images are refused by the model APIs anyway
# Checked in this order: an animation also carries a document, a venue a location.
MEDIA_KINDS = (
    "sticker",
    "voice",
    "video_note",
    "video",
    "animation",
    "audio",
    "venue",
    "location",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "document",
)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# PTB's HTTPXRequest defaults in seconds: read, write, connect, pool; uploads get 20 s to write.
TIMEOUTS = (5.0, 5.0, 5.0, 1.0)
UPLOAD_WRITE_TIMEOUT = 20.0
T = TypeVar("T")


class AiohttpRequest(BaseRequest):
    """PTB's networking on `HttpSession` (aiohttp) instead of httpx: see that class for why."""

    def __init__(self, pool: int) -> None:
        self.http = HttpSession(pool=pool, user_agent=self.USER_AGENT)

    @property
    def read_timeout(self) -> float | None:
        return TIMEOUTS[0]

    async def initialize(self) -> None:
        await self.http.open()

    async def shutdown(self) -> None:
        await self.http.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        files = (
            request_data.multipart_data if request_data and request_data.contains_files else None
        )
        defaults = (TIMEOUTS[0], UPLOAD_WRITE_TIMEOUT, *TIMEOUTS[2:]) if files else TIMEOUTS
        # DEFAULT_NONE means "not given": use ours. None means "no limit".
        read, write, connect, pool = (
            default if given is BaseRequest.DEFAULT_NONE else given
            for given, default in zip(
                (read_timeout, write_timeout, connect_timeout, pool_timeout), defaults, strict=True
            )
        )
        try:
            return await self.http.call(
                method,
                url,
                request_data.json_parameters if request_data else None,
                files,
                read=read,
                write=write,
                connect=connect,
                pool=pool,
            )
        except HttpTimeout as exc:
            raise TimedOut(str(exc)) from exc
        except HttpFailure as exc:
            raise NetworkError(str(exc)) from exc


class TelegramSink:
    """One chat (and forum topic) as a ChatSink: Bot API calls with errors translated."""

    def __init__(self, bot: Bot, chat_id: int, thread_id: int | None, reply_to: int | None) -> None:
        self.bot, self.chat_id, self.thread_id = bot, chat_id, thread_id
        self.reply = (
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        )

    async def typing(self) -> None:
        await _translated(
            self.bot.send_chat_action(
                self.chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
            )
        )

    async def send(self, body: Body) -> int:
        sent = await _translated(
            self.bot.send_message(
                self.chat_id,
                body.text,
                entities=self._entities(body),
                message_thread_id=self.thread_id,
                reply_parameters=self.reply,
                link_preview_options=_NO_PREVIEW,
            )
        )
        return sent.message_id

    async def edit(self, message_id: int, body: Body) -> None:
        try:
            await _translated(
                self.bot.edit_message_text(
                    body.text,
                    chat_id=self.chat_id,
                    message_id=message_id,
                    entities=self._entities(body),
                    link_preview_options=_NO_PREVIEW,
                )
            )
        except Rejected as exc:
            # The message already shows this text (e.g. a retried edit that had landed).
            if "not modified" not in str(exc).lower():
                raise

    def _entities(self, body: Body) -> list[MessageEntity] | None:
        entities = [MessageEntity.de_json(e, self.bot) for e in body.entities]
        return [e for e in entities if e is not None] or None


async def _translated(call: Awaitable[T]) -> T:
    try:
        return await call
    except RetryAfter as exc:
        wait = exc.retry_after
        raise RateLimited(
            wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        ) from exc
    except BadRequest as exc:  # a subclass of NetworkError: catch it first
        raise Rejected(exc.message) from exc
    except NetworkError as exc:  # includes TimedOut
        raise Transient(str(exc)) from exc


class TelegramAdapter:
    """Decides which messages are for the bot, converts them and streams the engine's reply."""

    def __init__(
        self, engine: Engine, *, edit_interval: float = 1.0, admins: frozenset[str] = frozenset()
    ) -> None:
        self.engine = engine
        self.edit_interval = edit_interval
        self.admin_chats = [
            int(a.split(":", 1)[1])
            for a in admins
            if a.startswith(f"{PLATFORM}:") and a.split(":", 1)[1].lstrip("-").isdigit()
        ]

    async def register_commands(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Offer the engine's commands as Telegram's menu, in every catalog language."""
        commands = self.engine.commands()
        for lang in LANGS:
            menu = [BotCommand(c.name, c.description[lang]) for c in commands if not c.admin_only]
            await app.bot.set_my_commands(menu, language_code=None if lang == "en" else lang)
        for chat_id in self.admin_chats:  # admins also see the admin commands, in their chat
            for lang in LANGS:
                menu = [BotCommand(c.name, c.description[lang]) for c in commands]
                try:
                    await app.bot.set_my_commands(
                        menu,
                        scope=BotCommandScopeChat(chat_id),
                        language_code=None if lang == "en" else lang,
                    )
                except TelegramError as exc:
                    log.warning("could not set the admin menu for chat %s: %s", chat_id, exc)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or not _from_person(message):
            return
        # CommandHandler already dropped "/cmd@another_bot"; the engine parses "/cmd@us args".
        await self._answer(message, context.bot, message.text or "")

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or not _from_person(message):
            return
        bot = context.bot
        direct = message.chat.type == ChatType.PRIVATE
        if not direct and not _addressed(message, bot):
            return
        text = message.text or message.caption or ""
        if not direct:
            text = _strip_mention(text, bot.username)
        kind = _media_kind(message)
        if not (text.strip() or message.photo or kind):
            return  # empty or whitespace-only: nothing to answer
        await self._answer(message, bot, text, kind=kind)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never the message text: only what failed and where.
        uid = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed: %r", uid, context.error, exc_info=context.error)

    async def _answer(
        self, message: Message, bot: Bot, text: str, *, kind: str | None = None
    ) -> None:
        user = message.from_user
        assert user is not None  # checked by _from_person
        topic = message.message_thread_id if message.is_topic_message else None
        direct = message.chat.type == ChatType.PRIVATE
        incoming = IncomingMessage(
            platform=PLATFORM,
            user_id=str(user.id),
            # Forum topics are separate conversations; message ids stay unique per chat.
            chat_id=f"{message.chat.id}:topic{topic}" if topic else str(message.chat.id),
            text=text,
            display_name=user.full_name,
            language=user.language_code,
            message_id=str(message.message_id),
            is_direct=direct,
        )
        sink = TelegramSink(bot, message.chat.id, topic, None if direct else message.message_id)
        stream = ReplyStream(sink, interval=self.edit_interval)
        async with aclosing(self._pieces(message, incoming, kind)) as pieces:
            await stream.run(pieces)

    async def _pieces(
        self, message: Message, incoming: IncomingMessage, kind: str | None
    ) -> AsyncGenerator[str, None]:
        # Downloading happens inside the stream, so the user already sees "typing".
        image = await _download_image(message) if message.photo or kind == "document" else None
        if image is not None:
            incoming = replace(incoming, images=(image,))
        elif message.photo:
            incoming = replace(incoming, unsupported="photo")
        elif kind is not None:
            incoming = replace(incoming, unsupported=kind)
        async with aclosing(self.engine.reply(incoming)) as reply:
            async for piece in reply:
                yield piece


def _from_person(message: Message) -> bool:
    # Other bots (and our own echoes) are never answered: two bots could loop forever.
    return message.from_user is not None and not message.from_user.is_bot


def _addressed(message: Message, bot: Bot) -> bool:
    """In a group: the bot was @mentioned, named in a command, or replied to."""
    username = (bot.username or "").lower()
    entities = {**message.parse_entities(), **message.parse_caption_entities()}
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value[1:].lower() == username:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and value.lower().endswith(f"@{username}"):
            return True
    reply = message.reply_to_message
    if reply is None or reply.from_user is None or reply.from_user.id != bot.id:
        return False
    # In a forum topic every message "replies" to the topic's first message.
    return not (message.is_topic_message and reply.message_id == message.message_thread_id)


def _strip_mention(text: str, username: str) -> str:
    pattern = rf"[ \t]*(?<![\w@])@{re.escape(username)}\b[,:]?"
    return re.sub(pattern, "", text, flags=re.IGNORECASE).strip()


def _media_kind(message: Message) -> str | None:
    """What the message carries that the bot can't read as text or photo."""
    for kind in MEDIA_KINDS:
        if getattr(message, kind, None):
            return "location" if kind == "venue" else kind
    if not (message.text or message.caption or message.photo):
        return "message"  # anything else (paid media, giveaways...): say so, don't go silent
    return None


async def _download_image(message: Message) -> Image | None:
    """The largest photo size, or a document that is an image; None if it can't be had."""
    source: PhotoSize | Document
    if message.photo:
        source, mime = message.photo[-1], "image/jpeg"
    elif message.document and (message.document.mime_type or "").startswith("image/"):
        source, mime = message.document, message.document.mime_type or "image/jpeg"
    else:
        return None
    if (source.file_size or 0) > MAX_IMAGE_BYTES:
        return None
    try:
        file = await source.get_file()
        return Image(bytes(await file.download_as_bytearray()), mime)
    except TelegramError as exc:
        log.warning("could not download an image: %s", exc)
        return None


def build_application(
    settings: Settings, engine: Engine
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A PTB Application wired to `engine`; `serve()` runs it."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = ApplicationBuilder().token(settings.telegram_bot_token.get_secret_value())
    if settings.telegram_api_base_url:  # a self-hosted Bot API server (or the tests' fake)
        api = settings.telegram_api_base_url.rstrip("/")
        builder = builder.base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
    # Chats are answered in parallel; the engine's per-user lock keeps each user's order.
    # One connection is enough for getUpdates: PTB never runs two at once.
    builder = builder.concurrent_updates(256).request(AiohttpRequest(pool=256))
    builder = builder.get_updates_request(AiohttpRequest(pool=1))
    adapter = TelegramAdapter(
        engine, edit_interval=settings.edit_interval, admins=settings.admin_ids()
    )
    app = builder.post_init(adapter.register_commands).build()
    names = [c.name for c in engine.commands()]
    app.add_handler(CommandHandler(names, adapter.on_command, filters=filters.UpdateType.MESSAGE))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL, adapter.on_message)
    )
    app.add_error_handler(adapter.on_error)
    return app


async def serve(
    app: Application[Any, Any, Any, Any, Any, Any], settings: Settings, stop: asyncio.Event
) -> None:
    """Run `app` until `stop` is set: webhook if a URL is configured, else long polling."""
    async with app:  # initialize() ... shutdown()
        if app.post_init:
            await app.post_init(app)
        assert app.updater is not None
        if settings.telegram_webhook_url:
            secret = (
                settings.telegram_webhook_secret.get_secret_value()
                if settings.telegram_webhook_secret
                else secrets.token_urlsafe(32)
            )
            await app.updater.start_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=urlparse(settings.telegram_webhook_url).path.strip("/"),
                webhook_url=settings.telegram_webhook_url,
                secret_token=secret,  # updates without it are refused with 403
                allowed_updates=["message"],
            )
            log.info("telegram webhook listening on port %s", settings.telegram_webhook_port)
        else:
            await app.updater.start_polling(allowed_updates=["message"])
            log.info("telegram long polling started")
        await app.start()
        try:
            await stop.wait()
        finally:
            await app.updater.stop()
            await app.stop()


def main(settings: Settings) -> int:
    """`tertulia telegram`: run until SIGINT/SIGTERM; 0 on a clean stop."""
    if settings.telegram_bot_token is None:
        log.error("TELEGRAM_BOT_TOKEN is not set")
        return 2
    return asyncio.run(_main(settings))


async def _main(settings: Settings) -> int:
    from adapters.runtime import open_runtime

    # httpx (PTB's default transport) logs every request URL at INFO; Bot API URLs hold the token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_runtime(settings) as runtime:
            await serve(build_application(settings, runtime.engine), settings, stop)
    except InvalidToken:
        log.error("Telegram refused TELEGRAM_BOT_TOKEN")
        return 1
    except TelegramError as exc:  # unreachable API, refused webhook settings, ...
        log.error("Telegram adapter could not start: %s", exc)
        return 1
    return 0
