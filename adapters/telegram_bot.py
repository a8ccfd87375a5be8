"""Telegram adapter: python-telegram-bot handlers, update conversion and the process entry point."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

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
    ChatMigrated,
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

from adapters import telegram_convert as convert
from adapters.telegram_http import TIMEOUTS, HttpFailure, HttpSession, HttpTimeout, timeouts
from adapters.telegram_stream import Body, RateLimited, Rejected, ReplyStream, Transient
from bot.engine import Engine, Replier
from bot.i18n import normalize_lang, t
from bot.types import Image, IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # larger images are refused by the model APIs anyway
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
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
        given = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        # DEFAULT_NONE means "not given": use ours. None means "no limit".
        read, write, connect, pool = timeouts(
            given, upload=bool(files), unset=BaseRequest.DEFAULT_NONE
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
        await self._call(
            lambda chat_id: self.bot.send_chat_action(
                chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
            )
        )

    async def send(self, body: Body) -> int:
        sent = await self._call(
            lambda chat_id: self.bot.send_message(
                chat_id,
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
            await self._call(
                lambda chat_id: self.bot.edit_message_text(
                    body.text,
                    chat_id=chat_id,
                    message_id=message_id,
                    entities=self._entities(body),
                    link_preview_options=_NO_PREVIEW,
                )
            )
        except Rejected as exc:
            # The message already shows this text (e.g. a retried edit that had landed).
            if "not modified" not in str(exc).lower():
                raise

    async def _call(self, make: Callable[[int], Awaitable[T]]) -> T:
        """`make(chat_id)` with errors translated; once more on the new id of a migrated group."""
        try:
            return await _translated(make(self.chat_id))
        except Rejected as exc:
            if not isinstance(exc.__cause__, ChatMigrated):
                raise
            # The group became a supergroup, which has a new id for good.
            log.info("chat %s migrated to %s", self.chat_id, exc.__cause__.new_chat_id)
            self.chat_id = exc.__cause__.new_chat_id
        return await _translated(make(self.chat_id))

    def _entities(self, body: Body) -> list[MessageEntity] | None:
        entities = [MessageEntity.de_json(e, self.bot) for e in body.entities]
        return [e for e in entities if e is not None] or None


async def _translated(call: Awaitable[T]) -> T:
    try:
        return await call
    except RetryAfter as exc:
        raise RateLimited(convert.seconds(exc.retry_after)) from exc
    except BadRequest as exc:  # a subclass of NetworkError: catch it first
        raise Rejected(exc.message) from exc
    except NetworkError as exc:  # includes TimedOut
        raise Transient(str(exc)) from exc
    except TelegramError as exc:  # Forbidden (blocked, kicked), ChatMigrated, ...
        raise Rejected(exc.message) from exc


class TelegramAdapter:
    """Decides which messages are for the bot, converts them and streams the engine's reply."""

    def __init__(
        self, engine: Engine, *, edit_interval: float = 1.0, admins: frozenset[str] = frozenset()
    ) -> None:
        self.engine = engine
        self.edit_interval = edit_interval
        self.admin_chats = convert.admin_chats(admins)

    async def register_commands(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Offer the engine's commands as Telegram's menu, in every catalog language."""
        commands = self.engine.commands()
        for code, menu in convert.menus(commands, admin=False):
            await app.bot.set_my_commands([BotCommand(*c) for c in menu], language_code=code)
        for chat_id in self.admin_chats:  # admins also see the admin commands, in their chat
            for code, menu in convert.menus(commands, admin=True):
                try:
                    await app.bot.set_my_commands(
                        [BotCommand(*c) for c in menu],
                        scope=BotCommandScopeChat(chat_id),
                        language_code=code,
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
            text = convert.strip_mention(text, bot.username)
        kind = convert.media_kind(
            {k for k in convert.MEDIA_KINDS if getattr(message, k, None)},
            bool(message.text or message.caption or message.photo),
        )
        if not (text.strip() or message.photo or kind):
            if direct:
                return  # empty or whitespace-only: nothing to answer
            text = "/start"  # a bare "@bot" in a group: say hello and what the bot can do
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
            platform=convert.PLATFORM,
            user_id=str(user.id),
            chat_id=convert.chat_key(message.chat.id, topic),
            text=text,
            display_name=user.full_name,
            language=user.language_code,
            message_id=str(message.message_id),
            is_direct=direct,
        )
        # Take this user's place in line before any await: a photo being downloaded must
        # not let a quick follow-up text overtake it.
        async with self.engine.in_order(incoming) as reply:
            sink = TelegramSink(bot, message.chat.id, topic, None if direct else message.message_id)
            stream = ReplyStream(sink, interval=self.edit_interval)
            try:
                async with aclosing(self._pieces(message, incoming, kind, reply)) as pieces:
                    await stream.run(pieces)
            except Exception:
                log.exception("could not deliver a reply in chat %s", message.chat.id)
                if not stream.message_ids:  # say something rather than stay silent
                    lang = normalize_lang(user.language_code) or "en"
                    try:
                        await sink.send(Body(t("internal_error", lang)))
                    except (RateLimited, Rejected, Transient) as exc:
                        log.warning("could not send the error notice: %s", exc)

    async def _pieces(
        self, message: Message, incoming: IncomingMessage, kind: str | None, reply: Replier
    ) -> AsyncGenerator[str, None]:
        # Downloading happens inside the stream, so the user already sees "typing".
        image = await _download_image(message) if message.photo or kind == "document" else None
        incoming = convert.with_media(incoming, image, bool(message.photo), kind)
        async with aclosing(reply(incoming)) as pieces:
            async for piece in pieces:
                yield piece


def _from_person(message: Message) -> bool:
    # Other bots (and our own echoes) are never answered: two bots could loop forever.
    return message.from_user is not None and not message.from_user.is_bot


def _addressed(message: Message, bot: Bot) -> bool:
    entities = {**message.parse_entities(), **message.parse_caption_entities()}
    reply = message.reply_to_message
    return convert.addressed(
        [(e.type, value, e.user.id if e.user else None) for e, value in entities.items()],
        username=bot.username or "",
        bot_id=bot.id,
        reply_from=reply.from_user.id if reply and reply.from_user else None,
        reply_id=reply.message_id if reply else None,
        topic_id=message.message_thread_id if message.is_topic_message else None,
    )


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
            await app.updater.start_webhook(**convert.webhook_options(settings))
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
