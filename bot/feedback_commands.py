"""Feedback as commands: rate my last answer, regenerate it, and consent to tuning.

The buttons under each answer (Telegram, Discord) do the same through Engine.rate and a
`retry` call naming the answer; in the terminal these commands are the buttons.
"""

from __future__ import annotations

import re
import time

from bot.command_base import Answer, Command, CommandArg, CommandContext, d
from bot.i18n import t
from bot.types import Rated

REASON_CHARS = 500  # a short reason, not an essay
REASON_WINDOW = 600.0  # seconds after a 👎 button in which "/bad <why>" explains that one
_REPLY_ID = re.compile(r"#?(\d{1,18})")


def feedback_text(rated: Rated, rating: int | None, lang: str, *, reason: bool = False) -> str:
    """What the person is told about their rating (or their request to regenerate)."""
    if rated is Rated.NOT_YOURS:
        return t("rate_not_yours", lang)
    if rated is Rated.GONE:
        return t("rate_gone", lang)
    if rated is Rated.NOT_LATEST:
        return t("retry_not_latest", lang)
    if rating == 1:
        return t("rated_up", lang)
    if rating == -1:
        return t("rated_down_reason" if reason else "rated_down", lang)
    return t("rating_cleared", lang)


def clean_reason(text: str) -> str | None:
    """A thumbs down's reason as stored: one line, bounded; None when there is none."""
    reason = " ".join(text.split())[:REASON_CHARS]
    return reason or None


async def _rate(ctx: CommandContext, rating: int) -> str:
    reason = clean_reason(ctx.args) if rating == -1 else None
    reply = None
    if reason is not None:
        # "/bad <why>" just after a 👎 button: the reason is for the answer pressed, which
        # may not be the newest one.
        since = time.time() - REASON_WINDOW
        reply = await ctx.store.rated_down(ctx.user.ids, ctx.msg.key.chat_id, since)
    if reply is None:
        reply = await ctx.store.latest_reply(ctx.user.ids, ctx.msg.key.chat_id)
    if reply is None:
        return t("rate_nothing", ctx.lang)
    rated = await ctx.store.rate(ctx.user.ids, reply, rating, reason)
    return feedback_text(rated, rating, ctx.lang, reason=reason is not None)


async def _good(ctx: CommandContext) -> str:
    return await _rate(ctx, 1)


async def _bad(ctx: CommandContext) -> str:
    return await _rate(ctx, -1)


async def _retry(ctx: CommandContext) -> Answer:
    """The exchange to answer again; the engine streams the new answer (Answer.redo)."""
    found = _REPLY_ID.fullmatch(ctx.args.strip())
    reply_id = int(found.group(1)) if found else None
    rated, redo = await ctx.store.redo(ctx.user.ids, ctx.conversation_id, reply_id)
    if redo is None and rated is Rated.GONE and reply_id is None:
        return Answer(t("retry_nothing", ctx.lang))
    if redo is None:
        return Answer(feedback_text(rated, None, ctx.lang))
    if redo.images:
        return Answer(t("retry_image", ctx.lang))
    return Answer("", redo=redo)


async def _consent(ctx: CommandContext) -> str:
    wanted = ctx.args.strip().lower()
    if wanted in ("on", "off"):
        await ctx.store.set_consent(ctx.user.id, wanted == "on")
        return t(f"consent_{wanted}", ctx.lang)
    state = "on" if await ctx.store.consent(ctx.user.id) else "off"
    return t("consent_status", ctx.lang, state=t(f"consent_state_{state}", ctx.lang))


COMMANDS = (
    Command("good", d("Rate my last answer 👍", "Valora mi última respuesta 👍"), _good),
    Command(
        "bad",
        d("Rate my last answer 👎, with a reason", "Valora mi última respuesta 👎, con un motivo"),
        _bad,
        args=(CommandArg("reason", d("What was wrong (optional)", "Qué falló (opcional)")),),
    ),
    Command(
        "retry",
        d("Answer my last message again", "Responde de nuevo a mi último mensaje"),
        _retry,
    ),
    Command(
        "consent",
        d(
            "Allow or refuse using our chats to improve the model",
            "Permite o niega usar nuestras charlas para mejorar el modelo",
        ),
        _consent,
        args=(CommandArg("choice", d("on or off", "on u off"), choices=("on", "off")),),
        private=True,
        personal=True,
    ),
)
