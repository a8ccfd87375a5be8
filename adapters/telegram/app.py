"""The Telegram process: python-telegram-bot handlers, message conversion and the entry point."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    Document,
    Message,
    PhotoSize,
    Update,
)
from telegram.constants import ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters import recovery, runtime
from adapters.delivery import Feedback
from adapters.session import Session
from adapters.telegram import convert
from adapters.telegram import recovery as telegram_recovery
from adapters.telegram.http import AiohttpRequest, UpdatesRequest
from adapters.telegram.surface import TelegramSurface, keyboard, translated
from adapters.telegram.webhook import Webhook
from bot.commands import Command, parse_command
from bot.types import (
    CommandCall,
    ConversationKey,
    Image,
    IncomingMessage,
    MediaKind,
    Rated,
    RemoteImage,
)
from config.settings import Settings

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # larger images are refused by the model APIs anyway
TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class TelegramAdapter:
    """Decides which messages are for the bot, converts them once, hands them to the session."""

    def __init__(
        self, session: Session, commands: list[Command], admins: frozenset[str] = frozenset()
    ) -> None:
        self.session = session
        self.commands = commands
        self.admin_chats = convert.admin_chats(admins)
        # A lock per answer being rated; entries vanish once no press holds them.
        self._pressing: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def register_commands(self, app: TelegramApp) -> None:
        """Offer the engine's commands as Telegram's menu, in every catalog language."""
        for code, menu in convert.menus(self.commands, admin=False):
            await app.bot.set_my_commands([BotCommand(*c) for c in menu], language_code=code)
        for chat_id in self.admin_chats:  # admins also see the admin commands, in their chat
            for code, menu in convert.menus(self.commands, admin=True):
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
        # CommandHandler already dropped "/cmd@another_bot"; this parses "/cmd@us args".
        text = message.text or ""
        await self._answer(message, context.bot, text, parse_command(text))

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
        # "/unknown" reaches this handler too: answered as a command, not sent to the model.
        command = parse_command(text) if message.text else None
        await self._answer(message, bot, text, command)

    async def on_feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """👍, 👎 or ↻ pressed under an answer: the query is answered at once, every time."""
        query = update.callback_query
        if query is None:
            return
        found = convert.feedback_action(query.data or "")
        message = query.message
        if found is None or not isinstance(message, Message) or query.from_user.is_bot:
            await _answer_query(query)  # an old or foreign button: just stop its spinner
            return
        action, reply_id = found
        direct = message.chat.type == ChatType.PRIVATE
        topic = message.message_thread_id if message.is_topic_message else None
        user = query.from_user
        person = IncomingMessage(
            key=ConversationKey(
                convert.PLATFORM, str(user.id), convert.chat_key(message.chat.id, topic)
            ),
            display_name=user.full_name,
            language=user.language_code,
            message_id=f"callback:{query.id}",  # a press delivered twice is answered once
            is_direct=direct,
            command=CommandCall("retry", str(reply_id)) if action == "redo" else None,
        )
        if action == "redo":
            rated, line = await self.session.may_redo(person, reply_id)
            if rated is not Rated.OK:
                # Someone else's answer, or an old one: told to the presser alone, nothing
                # stored or posted in the chat.
                await _answer_query(query, line)
                return
            await _answer_query(query)
            # The new answer streams into a new message, quoting the one it replaces.
            surface = TelegramSurface(
                context.bot, message.chat.id, topic, None if direct else message.id, direct=direct
            )
            await self.session.handle(person, surface)
            return
        rating = 1 if action == "up" else -1
        # Presses on one answer one at a time: the keyboard ends up showing what is stored.
        lock = self._pressing.get(reply_id)
        if lock is None:
            lock = self._pressing[reply_id] = asyncio.Lock()
        async with lock:
            rated, line = await self.session.rate(person, reply_id, rating)
            await _answer_query(query, line)
            if rated is Rated.OK:
                try:  # show the choice; the rating is stored whatever becomes of this
                    await translated(
                        query.edit_message_reply_markup(keyboard(Feedback(reply_id, rating)))
                    )
                except Exception as exc:
                    log.info("could not mark the rating on the keyboard: %s", exc)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never the message text: only what failed and where.
        uid = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed: %r", uid, context.error, exc_info=context.error)

    async def _answer(
        self, message: Message, bot: Bot, text: str, command: CommandCall | None
    ) -> None:
        direct = message.chat.type == ChatType.PRIVATE
        topic = message.message_thread_id if message.is_topic_message else None
        surface = TelegramSurface(
            bot, message.chat.id, topic, None if direct else message.id, direct=direct
        )
        await self.session.handle(incoming(message, text, command, topic), surface)


def incoming(
    message: Message, text: str, command: CommandCall | None, topic: int | None
) -> IncomingMessage:
    """The message as the engine reads it; a photo is fetched later, inside the person's line."""
    user = message.from_user
    assert user is not None  # checked by _from_person
    images: tuple[Image | RemoteImage, ...] = ()
    unsupported = convert.media_kind(
        {k for k in convert.MEDIA_KINDS if getattr(message, k, None)},
        bool(message.text or message.caption or message.photo),
    )
    source = _image_source(message)
    if source is not None:
        images, unsupported = (RemoteImage(partial(_download, *source)),), None
    elif message.photo or _is_image(message.document):
        unsupported = MediaKind.PHOTO  # an image, but too large to hand over
    return IncomingMessage(
        key=ConversationKey(
            convert.PLATFORM, str(user.id), convert.chat_key(message.chat.id, topic)
        ),
        text=text,
        display_name=user.full_name,
        language=user.language_code,
        message_id=str(message.message_id),
        is_direct=message.chat.type == ChatType.PRIVATE,
        images=images,
        unsupported=unsupported,
        command=command,
    )


async def _answer_query(query: CallbackQuery, text: str | None = None) -> None:
    try:
        await query.answer(text)
    except TelegramError as exc:  # too old (over ~15 s), or already answered
        log.info("could not answer a button press: %s", exc)


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


def _is_image(document: Document | None) -> bool:
    return document is not None and (document.mime_type or "").startswith("image/")


def _image_source(message: Message) -> tuple[PhotoSize | Document, str] | None:
    """The largest photo size, or a document that is an image, when small enough to read."""
    source: PhotoSize | Document
    if message.photo:
        source, mime = message.photo[-1], "image/jpeg"
    elif message.document and _is_image(message.document):
        source, mime = message.document, message.document.mime_type or "image/jpeg"
    else:
        return None
    if (source.file_size or 0) > MAX_IMAGE_BYTES:
        return None
    return source, mime


async def _download(source: PhotoSize | Document, mime: str) -> Image | None:
    try:
        file = await source.get_file()
        return Image(bytes(await file.download_as_bytearray()), mime)
    except TelegramError as exc:
        log.warning("could not download an image: %s", exc)
        return None


def _polling_failed(exc: TelegramError) -> None:
    # PTB polls again by itself, backing off from 1 s to 30 s: one line per failed poll,
    # not its default traceback each time through an outage.
    log.warning("getUpdates failed (%s: %s); polling again", type(exc).__name__, exc)


def build_application(
    settings: Settings, session: Session, commands: Sequence[Command]
) -> TelegramApp:
    """A PTB Application handing messages to `session`, offering `commands`; serve() runs it."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = ApplicationBuilder().token(settings.telegram_bot_token.get_secret_value())
    if settings.telegram_api_base_url:  # a self-hosted Bot API server (or the tests' fake)
        api = settings.telegram_api_base_url.rstrip("/")
        builder = builder.base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
    # Chats are answered in parallel; the engine's per-person line keeps each one's order.
    # One connection is enough for getUpdates: PTB never runs two at once. An update PTB
    # cannot read is skipped there, or the whole batch would be fetched again forever.
    builder = builder.concurrent_updates(256).request(AiohttpRequest(pool=256))
    builder = builder.get_updates_request(UpdatesRequest(pool=1))
    adapter = TelegramAdapter(session, list(commands), settings.admin_ids())
    app = builder.post_init(adapter.register_commands).build()
    names = [c.name for c in commands]
    app.add_handler(CommandHandler(names, adapter.on_command, filters=filters.UpdateType.MESSAGE))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL, adapter.on_message)
    )
    app.add_handler(CallbackQueryHandler(adapter.on_feedback))
    app.add_error_handler(adapter.on_error)
    return app


async def serve(
    settings: Settings,
    session: Session,
    commands: Sequence[Command],
    stop: asyncio.Event,
    *,
    ready: asyncio.Event | None = None,
    background: Callable[[Bot], Awaitable[None]] | None = None,
) -> None:
    """Run until `stop` is set: webhook if a URL is configured, else long polling.

    `ready` is set once updates are being taken; `background(bot)` (crash recovery's notes)
    runs meanwhile, cancelled on stop. On stop, updates stop coming first; replies in
    flight then finish (the drain).
    """
    app = build_application(settings, session, commands)
    try:
        await app.initialize()
    except BaseException:
        # PTB's shutdown() skips an application that never finished initialising, which
        # would leave our HTTP sessions open ("Unclosed client session" at exit).
        await app.bot.shutdown()
        raise
    try:
        if app.post_init:
            await app.post_init(app)
        assert app.updater is not None
        webhook: Webhook | None = None
        if settings.telegram_webhook_url:
            # Our server, not PTB's: an update it cannot read is skipped, not refused forever.
            webhook = Webhook(app.bot, app.update_queue, **convert.webhook_options(settings))
            await webhook.start()
            log.info("telegram webhook listening on port %s", settings.telegram_webhook_port)
        else:
            await app.updater.start_polling(
                allowed_updates=list(convert.UPDATES), error_callback=_polling_failed
            )
            log.info("telegram long polling started")
        await app.start()
        chores = asyncio.ensure_future(background(app.bot)) if background else None
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            if chores is not None:
                chores.cancel()
                await asyncio.gather(chores, return_exceptions=True)
            if webhook is not None:
                await webhook.stop()
            else:
                await app.updater.stop()
            await session.drain()
            await app.stop()
    finally:
        await app.shutdown()


async def run(rt: runtime.Runtime, stop: asyncio.Event) -> int:
    """The platform's part of `tertulia telegram`: 2 for a refused token (no restart)."""
    tell = recovery.background_for(rt, convert.PLATFORM, telegram_recovery.surface)
    try:
        await serve(rt.settings, rt.session, rt.engine.commands(), stop, background=tell)
    except InvalidToken:
        log.error("Telegram refused TELEGRAM_BOT_TOKEN: check the token from @BotFather")
        return runtime.CONFIG_ERROR
    except TelegramError as exc:  # unreachable API, refused webhook settings, ...
        log.error("Telegram adapter could not start: %s", exc)
        return 1
    return 0


def main(settings: Settings) -> int:
    """`tertulia telegram`: run until SIGINT/SIGTERM; 0 on a clean stop."""
    return runtime.run_platform(settings, run)
