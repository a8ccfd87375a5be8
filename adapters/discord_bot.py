"""The Discord adapter: DMs, mentions, replies and slash commands, streamed from the engine."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters import discord_convert as convert
from adapters.discord_stream import Page, PageGone, deliver
from adapters.runtime import open_runtime
from bot.commands import Command
from bot.engine import Engine, Replier
from bot.i18n import CATALOG, normalize_lang, t
from bot.types import Image, IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "discord"
DRAIN_SECONDS = 10.0  # how long shutdown waits for replies in flight
# Locales whose clients show our Spanish descriptions; the rest see English.
SPANISH = frozenset({discord.Locale.spain_spanish, discord.Locale.latin_american_spanish})


def _localized(text: Mapping[str, str]) -> app_commands.locale_str:
    return app_commands.locale_str(text["en"], es=text.get("es", text["en"]))


class CatalogTranslator(app_commands.Translator):
    """Gives Discord the Spanish text carried in each `locale_str` for es-ES and es-419."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        return string.extras.get("es") if locale in SPANISH else None


def redirect(settings: Settings) -> None:
    """Point discord.py at a REST and gateway proxy (or a test fake) when configured."""
    if base := settings.discord_api_base_url:
        discord.http.Route.BASE = convert.api_base(base)
    if gateway := settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


class _MessagePage:
    def __init__(self, message: discord.Message | discord.WebhookMessage) -> None:
        self._message = message

    async def edit(self, text: str) -> None:
        try:
            await self._message.edit(content=text)
        except discord.NotFound as exc:
            raise PageGone(str(exc)) from exc


class _OriginalPage:
    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction

    async def edit(self, text: str) -> None:
        try:
            await self._interaction.edit_original_response(content=text)
        except discord.NotFound as exc:
            raise PageGone(str(exc)) from exc


class MessageReply:
    """A reply to a user's message: typing until the first page, later pages follow it."""

    def __init__(self, message: discord.Message) -> None:
        self._message = message
        self._typing: Any = None
        self._pages = 0

    async def begin(self) -> None:
        typing = self._message.channel.typing()
        try:
            await typing.__aenter__()
        except discord.HTTPException as exc:
            # Only a courtesy: a channel that refuses "typing…" may still take the reply.
            log.debug("typing indicator failed: %s", exc)
        else:
            self._typing = typing

    async def _stop_typing(self) -> None:
        typing, self._typing = self._typing, None
        if typing is not None:
            await typing.__aexit__(None, None, None)

    async def send(self, text: str) -> Page:
        self._pages += 1
        if self._pages == 1:
            await self._stop_typing()
            # Still answer when the user deleted their message meanwhile.
            ref = self._message.to_reference(fail_if_not_exists=False)
            sent = await self._message.channel.send(text, reference=ref, mention_author=False)
        else:
            sent = await self._message.channel.send(text)
        return _MessagePage(sent)

    async def end(self, delivered: bool) -> None:
        await self._stop_typing()


class InteractionReply:
    """An interaction's answer: deferred ("thinking"), then the original edited, then follow-ups."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool) -> None:
        self._interaction = interaction
        self._ephemeral = ephemeral
        self._pages = 0
        self._deferred: asyncio.Task[Any] | None = None

    def acknowledge(self) -> None:
        """Start the deferral now, without waiting for it (or for this user's earlier replies)."""
        # Discord wants an acknowledgement within 3 s, whatever the model does.
        if self._deferred is None:
            defer = self._interaction.response.defer(thinking=True, ephemeral=self._ephemeral)
            self._deferred = asyncio.create_task(defer)

    async def begin(self) -> None:
        self.acknowledge()
        assert self._deferred is not None
        await self._deferred

    async def send(self, text: str) -> Page:
        self._pages += 1
        if self._pages == 1:
            await self._interaction.edit_original_response(content=text)
            return _OriginalPage(self._interaction)
        followup = self._interaction.followup
        sent = await followup.send(text, ephemeral=self._ephemeral, wait=True)
        return _MessagePage(sent)

    async def end(self, delivered: bool) -> None:
        if not delivered:  # e.g. a duplicate: don't leave "thinking…" forever
            await self._interaction.delete_original_response()


class TertuliaDiscord(discord.Client):
    """A discord.py client that hands every message meant for the bot to the engine."""

    def __init__(
        self, engine: Engine, settings: Settings, *, reidentify_delay: float = 5.0, **options: Any
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.dm_messages = intents.guild_messages = True
        intents.message_content = True  # privileged: enable it in the developer portal
        super().__init__(
            intents=intents,
            # The model's text must never ping @everyone or anyone else.
            allowed_mentions=discord.AllowedMentions.none(),
            chunk_guilds_at_startup=False,
            **options,
        )
        self.engine = engine
        self.settings = settings
        self.tree = app_commands.CommandTree(self)
        self._private: dict[str, bool] = {}
        self._inflight = convert.Inflight()
        self._reidentify_delay = reidentify_delay

    # -- start-up ------------------------------------------------------------------

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s; tests of a lost session need not wait that long.
        if not initial:
            await asyncio.sleep(self._reidentify_delay)

    async def setup_hook(self) -> None:
        for command in self.engine.commands():
            self.tree.add_command(self._app_command(command))
        self.tree.add_command(self._ask_command())
        await self.tree.set_translator(CatalogTranslator())
        try:
            await self.sync_commands()
        except discord.HTTPException as exc:
            # Old commands keep working; messages and mentions don't need the tree.
            log.error("could not sync slash commands: %s", exc)

    async def sync_commands(self) -> None:
        guild_id = self.settings.discord_dev_guild
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info(
            "synced %d slash commands%s", len(synced), f" to guild {guild_id}" if guild_id else ""
        )

    def _app_command(self, command: Command) -> app_commands.Command[Any, ..., Any]:
        self._private[command.name] = command.private
        params = convert.command_params(command)
        callback = convert.slash_callback(command.name, params, self._on_slash)
        if command.args:
            described = {a.name: _localized(a.description) for a in command.args}
            callback = app_commands.describe(**described)(callback)
        if choices := {a.name: a.choices for a in command.args if a.choices}:
            callback = app_commands.choices(
                **{
                    name: [app_commands.Choice(name=c, value=c) for c in values]
                    for name, values in choices.items()
                }
            )(callback)
        return app_commands.Command(
            name=command.name, description=_localized(command.description), callback=callback
        )

    def _ask_command(self) -> app_commands.Command[Any, ..., Any]:
        prompt = inspect.Parameter("prompt", inspect.Parameter.KEYWORD_ONLY, annotation=str)
        callback = convert.slash_callback("ask", [prompt], self._on_slash)
        callback = app_commands.describe(prompt=_localized(CATALOG["ask_prompt"]))(callback)
        return app_commands.Command(
            name="ask", description=_localized(CATALOG["ask_description"]), callback=callback
        )

    # -- inbound -------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        is_direct = message.guild is None
        mentioned = any(u.id == me.id for u in message.mentions)
        if not (is_direct or mentioned or self._replies_to_me(message, me.id)):
            return
        if not self._inflight.accepting:
            return
        sender = IncomingMessage(
            platform=PLATFORM,
            user_id=str(message.author.id),
            # A thread has its own id, so each thread is its own conversation.
            chat_id=str(message.channel.id),
            text="",
            display_name=message.author.display_name,
            message_id=str(message.id),
            is_direct=is_direct,
        )
        try:
            # The user's place in line is taken before the first await (the download,
            # "typing…"): a quick text after an image can't reach the model first.
            with self._inflight.track():
                async with self.engine.in_order(sender) as reply:
                    msg = await self._incoming(message, me.id, sender)
                    if not (is_direct or msg.text or msg.images or msg.unsupported):
                        msg = replace(msg, text="/start")  # a bare mention: say hello
                    if msg.text or msg.images or msg.unsupported:  # not even "typing…"
                        await self._deliver(reply, msg, MessageReply(message))
        except Exception:
            # Nothing a user sends may take the process down.
            log.exception("failed to answer discord message %s", message.id)

    @staticmethod
    def _replies_to_me(message: discord.Message, my_id: int) -> bool:
        ref = message.reference
        if ref is None:
            return False
        replied = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
        return replied is not None and replied.author.id == my_id

    async def _incoming(
        self, message: discord.Message, my_id: int, sender: IncomingMessage
    ) -> IncomingMessage:
        text = convert.strip_mention(message.content, my_id)
        images: list[Image] = []
        unsupported: str | None = "sticker" if message.stickers else None
        for attachment in message.attachments:
            kind = convert.media_kind(attachment.content_type, attachment.size, message.flags.voice)
            if kind is None:
                try:
                    data = await attachment.read()
                except (discord.HTTPException, OSError) as exc:
                    log.warning("could not download attachment %s: %s", attachment.id, exc)
                    kind = "photo"  # the engine says it couldn't open the image
                else:
                    images.append(Image(data, attachment.content_type or "image/png"))
                    continue
            unsupported = unsupported or kind
        return replace(
            sender,
            text=text,
            images=tuple(images),
            # Images are what the model reads; other files only matter when alone.
            unsupported=None if images else unsupported,
        )

    async def _on_slash(
        self, interaction: discord.Interaction, name: str, options: Mapping[str, str | None]
    ) -> None:
        if not self._inflight.accepting:
            return
        try:
            text, private = convert.slash_text(name, options, self._private.get(name, False))
            msg = IncomingMessage(
                platform=PLATFORM,
                user_id=str(interaction.user.id),
                chat_id=str(interaction.channel_id),
                text=text,
                display_name=interaction.user.display_name,
                language=str(interaction.locale),
                message_id=f"interaction:{interaction.id}",
                is_direct=interaction.guild_id is None,
                # /ask prompt:/forget is a question about /forget, not the command.
                allow_commands=name != "ask",
            )
            surface = InteractionReply(interaction, ephemeral=private)
            with self._inflight.track():
                # Defer at once, but wait in line: an earlier reply may outlast Discord's 3 s.
                surface.acknowledge()
                async with self.engine.in_order(msg) as reply:
                    await self._deliver(reply, msg, surface)
        except Exception:
            log.exception("failed to answer /%s interaction %s", name, interaction.id)

    async def _deliver(
        self, reply: Replier, msg: IncomingMessage, surface: MessageReply | InteractionReply
    ) -> None:
        lang = normalize_lang(msg.language) or self.engine.default_lang
        async with contextlib.aclosing(reply(msg)) as pieces:
            await deliver(
                pieces,
                surface,
                interval=self.settings.edit_interval,
                failure=t("internal_error", lang),
            )

    async def drain(self, grace: float) -> None:
        """Take no new messages; give replies in flight `grace` seconds, then cancel them."""
        await self._inflight.drain(grace)


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Run the bot until `stop` is set or SIGTERM/SIGINT arrives; 0 on a clean stop."""
    if settings.discord_bot_token is None:
        log.error("DISCORD_BOT_TOKEN is not set")
        return 2
    token = settings.discord_bot_token.get_secret_value()
    redirect(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with (
        open_runtime(settings) as runtime,
        TertuliaDiscord(runtime.engine, settings) as client,
    ):
        running = asyncio.create_task(client.start(token))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await client.drain(DRAIN_SECONDS)
        await client.close()
        try:
            await running
        # A bad setting exits 2: the supervisor then stops instead of restarting forever.
        except discord.LoginFailure:
            log.error("Discord rejected DISCORD_BOT_TOKEN: check the bot token")
            return 2
        except discord.PrivilegedIntentsRequired:
            log.error(
                "Discord refused the message-content intent: enable Message Content Intent"
                " for this bot in the developer portal"
            )
            return 2
        except Exception:
            log.exception("discord client stopped with an error")
            return 1
        if not stop.is_set():
            log.error("discord client stopped unexpectedly")
            return 1
    log.info("discord adapter stopped")
    return 0


def main(settings: Settings) -> int:
    """Entry point for `tertulia discord`."""
    return asyncio.run(serve(settings))
