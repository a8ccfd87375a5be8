"""Presses of the buttons under Discord answers: 👍 👎 rate, ✍ says why, ↻ regenerates."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
import discord

from adapters.delivery import Feedback
from adapters.discord import convert
from adapters.discord.convert import Action, Press
from adapters.discord.surface import InteractionSurface, feedback_view
from adapters.session import Session
from bot.feedback_commands import REASON_CHARS
from bot.i18n import normalize_lang, t
from bot.types import CommandCall, ConversationKey, IncomingMessage, Rated

log = logging.getLogger(__name__)

_RATINGS: Mapping[Action, int | None] = {Action.UP: 1, Action.DOWN: -1, Action.CLEAR: None}
_OURS = (discord.InteractionType.component, discord.InteractionType.modal_submit)
# What answering a press may raise: it came too late (Discord's 3 s), or the network failed.
_UNANSWERED = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)


class FeedbackPresses:
    """Answers the feedback buttons and the reason form, dispatched by custom_id.

    Nothing is kept per message: the custom_id names the action, the answer and who asked
    for it. Memory does not grow with the answers sent, and old buttons keep working
    after a restart.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    async def handle(self, interaction: discord.Interaction) -> None:
        """Answer `interaction` if it is a press of ours; anything else is left alone."""
        if interaction.type not in _OURS:
            return
        data: Mapping[str, Any] = interaction.data or {}
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id.startswith(convert.FEEDBACK):
            return
        press = convert.feedback_press(custom_id)
        submitted = interaction.type is discord.InteractionType.modal_submit
        try:
            if press is None or (press.action is Action.REASON) != submitted:
                # Not a control we ever sent: say "gone" rather than leave an error showing.
                await _tell(interaction, t("rate_gone", _lang(interaction)))
            elif press.action is Action.REDO:
                await self._redo(interaction, press)
            elif press.action is Action.WHY:
                await self._ask_why(interaction, press)
            elif press.action is Action.REASON:
                reason = convert.submitted_value(data.get("components") or [], convert.REASON_FIELD)
                await self._rate(interaction, press, -1, reason or "")
            else:
                await self._rate(interaction, press, _RATINGS[press.action])
        except _UNANSWERED as exc:
            log.warning("could not answer a feedback press: %s", exc)

    async def _rate(
        self, interaction: discord.Interaction, press: Press, rating: int | None, reason: str = ""
    ) -> None:
        msg = presser(interaction)
        rated, line = await self.session.rate(msg, press.reply_id, rating, reason)
        if rated is Rated.OK and interaction.message is not None and not reason.strip():
            # The buttons show the choice; a line in the chat would only be noise.
            shown = Feedback(press.reply_id, rating, reason=rating == -1)
            await interaction.response.edit_message(view=feedback_view(shown, press.asker))
        else:
            # Not theirs, gone, or a reason given: a line only the presser sees.
            await _tell(interaction, line)

    async def _ask_why(self, interaction: discord.Interaction, press: Press) -> None:
        # The form is only for the person who asked. A 👎 again checks that and changes
        # nothing: it keeps whatever reason was given before.
        rated, line = await self.session.rate(presser(interaction), press.reply_id, -1)
        if rated is not Rated.OK:
            await _tell(interaction, line)
            return
        await interaction.response.send_modal(reason_form(press, _lang(interaction)))

    async def _redo(self, interaction: discord.Interaction, press: Press) -> None:
        rated, line = await self.session.may_redo(presser(interaction), press.reply_id)
        if rated is not Rated.OK:
            # Someone else's answer, or an older one: told to the presser alone, before
            # anything is stored (a read, well within Discord's 3 s).
            await _tell(interaction, line)
            return
        shown = interaction.message
        # Someone else's ↻ is answered to them alone: the engine's "not yours" (or, for a
        # linked identity, the new answer) must not land in the channel for everyone.
        private = (shown is not None and shown.flags.ephemeral) or (
            interaction.user.id != press.asker
        )
        msg = replace(
            presser(interaction),
            command=CommandCall("retry", str(press.reply_id)),
            private=private,
        )
        surface = InteractionSurface(interaction, ephemeral=private)
        # "Thinking…" at once creates the new message the answer streams into.
        surface.acknowledge()
        await self.session.handle(msg, surface)


def reason_form(press: Press, lang: str) -> discord.ui.Modal:
    """The form a ✍ opens: one optional short reason for a 👎."""
    form = discord.ui.Modal(
        title=t("reason_title", lang),
        custom_id=Press(Action.REASON, press.reply_id, press.asker).custom_id,
        timeout=None,
    )
    form.add_item(
        discord.ui.TextInput(
            label=t("reason_label", lang),
            custom_id=convert.REASON_FIELD,
            required=False,
            max_length=REASON_CHARS,
        )
    )
    # Stopped like the buttons' view: the submission is dispatched by custom_id too, so
    # a form left open never waits in discord.py's ViewStore.
    form.stop()
    return form


def presser(interaction: discord.Interaction) -> IncomingMessage:
    """The presser, as the engine knows people: their key here and their language hint."""
    user = interaction.user
    return IncomingMessage(
        key=ConversationKey(convert.PLATFORM, str(user.id), str(interaction.channel_id)),
        display_name=user.display_name,
        language=str(interaction.locale),
        message_id=f"interaction:{interaction.id}",
        is_direct=interaction.guild_id is None,
    )


def _lang(interaction: discord.Interaction) -> str:
    return normalize_lang(str(interaction.locale)) or "en"


async def _tell(interaction: discord.Interaction, line: str) -> None:
    await interaction.response.send_message(line, ephemeral=True)
