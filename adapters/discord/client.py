"""The discord.py client: which messages are for the bot, slash commands, conversion once."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import discord
from discord import app_commands

from adapters.discord import convert
from adapters.discord.feedback import FeedbackPresses
from adapters.discord.surface import InteractionSurface, MessageSurface
from adapters.session import Session
from bot.commands import Command, parse_command
from bot.i18n import CATALOG
from bot.types import ConversationKey, Image, IncomingMessage, MediaKind, RemoteImage

log = logging.getLogger(__name__)

PLATFORM = convert.PLATFORM
# Locales whose clients show our Spanish descriptions; the rest see English.
SPANISH = frozenset({discord.Locale.spain_spanish, discord.Locale.latin_american_spanish})
# discord.py sleeps through a rate limit up to this long itself (30 s is its minimum);
# a longer one is raised, and delivery waits it out within its own deadline.
MAX_RATELIMIT_WAIT = 30.0
# One unparseable gateway event per this many seconds is skipped by connecting again.
SKIP_WINDOW = 60.0


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


class TertuliaDiscord(discord.Client):
    """A discord.py client that hands every message meant for the bot to the session."""

    def __init__(
        self,
        session: Session,
        commands: Sequence[Command],
        *,
        dev_guild: int | None = None,
        reidentify_delay: float = 5.0,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.dm_messages = intents.guild_messages = True
        intents.message_content = True  # privileged: enable it in the developer portal
        options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_WAIT)
        super().__init__(
            intents=intents,
            # The model's text must never ping @everyone or anyone else.
            allowed_mentions=discord.AllowedMentions.none(),
            chunk_guilds_at_startup=False,
            **options,
        )
        self.session = session
        self.feedback = FeedbackPresses(session)
        self.commands = list(commands)
        self.dev_guild = dev_guild
        self.tree = app_commands.CommandTree(self)
        self._private: dict[str, bool] = {}
        self._reidentify_delay = reidentify_delay

    # -- start-up ------------------------------------------------------------------

    async def connect(self, *, reconnect: bool = True) -> None:
        # A gateway event discord.py cannot parse escapes its connection loop and would
        # stop the client for everyone. Its session is left and a fresh one identified, so
        # that event is not replayed. Twice within a minute, the error stands (the
        # supervisor restarts the process, with backoff): no loop of IDENTIFYs.
        skipped = -SKIP_WINDOW
        while True:
            try:
                await super().connect(reconnect=reconnect)
                return
            except discord.DiscordException:
                raise
            except Exception as exc:
                now = time.monotonic()
                if self.is_closed() or now - skipped < SKIP_WINDOW:
                    raise
                skipped = now
                # The type only: the error's text may quote the event, a user's message.
                log.warning(
                    "skipped a gateway event discord.py cannot read (%s); connecting again",
                    type(exc).__name__,
                )
                if self.ws is not None:
                    await self.ws.close(code=1000)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s; tests of a lost session need not wait that long.
        if not initial:
            await asyncio.sleep(self._reidentify_delay)

    async def setup_hook(self) -> None:
        for command in self.commands:
            self.tree.add_command(self._app_command(command))
        self.tree.add_command(self._ask_command())
        await self.tree.set_translator(CatalogTranslator())
        try:
            await self.sync_commands()
        except discord.HTTPException as exc:
            # Old commands keep working; messages and mentions don't need the tree.
            log.error("could not sync slash commands: %s", exc)

    async def sync_commands(self) -> None:
        guild_id = self.dev_guild
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        where = f" to guild {guild_id}" if guild_id else ""
        log.info("synced %d slash commands%s", len(synced), where)

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
        slash: app_commands.Command[Any, ..., Any] = app_commands.Command(
            name=command.name, description=_localized(command.description), callback=callback
        )
        if command.admin_only:
            # Hidden from members without Administrator in servers (Discord's own check;
            # the engine still refuses anyone not in TERTULIA_ADMINS).
            slash.default_permissions = discord.Permissions(administrator=True)
        return slash

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
        if not _may_write(message):
            # Known from the cached guild state, no API call: asking the model for an
            # answer nobody can be shown would only cost the owner.
            log.info("no permission to write in channel %s: not answering", message.channel.id)
            return
        await self.session.handle(incoming(message, me.id), MessageSurface(message))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Slash commands reach the CommandTree; the buttons under answers and their form
        # come here, dispatched by custom_id rather than by views discord.py would keep.
        await self.feedback.handle(interaction)

    @staticmethod
    def _replies_to_me(message: discord.Message, my_id: int) -> bool:
        ref = message.reference
        if ref is None:
            return False
        replied = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
        return replied is not None and replied.author.id == my_id

    async def _on_slash(
        self, interaction: discord.Interaction, name: str, options: Mapping[str, str | None]
    ) -> None:
        ask = name == "ask"
        msg = IncomingMessage(
            key=ConversationKey(PLATFORM, str(interaction.user.id), str(interaction.channel_id)),
            # /ask prompt:/forget is a question about /forget, not the command.
            text=(options.get("prompt") or "") if ask else "",
            display_name=interaction.user.display_name,
            language=str(interaction.locale),
            message_id=f"interaction:{interaction.id}",
            is_direct=interaction.guild_id is None,
            guild_id=str(interaction.guild_id) if interaction.guild_id else None,
            command=None if ask else convert.slash_call(name, options),
            private=self._private.get(name, False),
        )
        surface = InteractionSurface(interaction, ephemeral=self._private.get(name, False))
        # Acknowledge at once, but wait in line: an earlier reply may outlast Discord's 3 s.
        surface.acknowledge()
        await self.session.handle(msg, surface)


def _may_write(message: discord.Message) -> bool:
    """Whether the bot may post in the message's channel, as the gateway last told us."""
    guild, channel = message.guild, message.channel
    known = isinstance(channel, discord.abc.GuildChannel) or (
        isinstance(channel, discord.Thread) and channel.parent is not None
    )
    if guild is None or guild.me is None or not known:
        # A DM, or a channel we know too little about: try, and learn from a 403.
        return True
    try:
        allowed = channel.permissions_for(guild.me)
    except discord.ClientException:
        return True
    if isinstance(channel, discord.Thread):
        return allowed.send_messages_in_threads
    return allowed.send_messages


def incoming(message: discord.Message, my_id: int) -> IncomingMessage:
    """The message as the engine reads it; images are fetched later, inside the person's line."""
    text = convert.strip_mention(message.content, my_id)
    images: list[Image | RemoteImage] = []
    unsupported: MediaKind | None = MediaKind.STICKER if message.stickers else None
    for attachment in message.attachments:
        kind = convert.media_kind(attachment.content_type, attachment.size, message.flags.voice)
        if kind is None:
            images.append(RemoteImage(partial(_download, attachment)))
        else:
            unsupported = unsupported or kind
    return IncomingMessage(
        # A thread has its own id, so each thread is its own conversation.
        key=ConversationKey(PLATFORM, str(message.author.id), str(message.channel.id)),
        text=text,
        display_name=message.author.display_name,
        message_id=str(message.id),
        is_direct=message.guild is None,
        guild_id=str(message.guild.id) if message.guild else None,
        images=tuple(images),
        # Images are what the model reads; other files only matter when alone.
        unsupported=None if images else unsupported,
        command=parse_command(text) if text.startswith("/") else None,
    )


async def _download(attachment: discord.Attachment) -> Image | None:
    try:
        return Image(await attachment.read(), attachment.content_type or "image/png")
    except (discord.HTTPException, OSError) as exc:
        log.warning("could not download attachment %s: %s", attachment.id, exc)
        return None
