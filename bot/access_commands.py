"""Access as commands: admins block and unblock people; everyone sees their own usage."""

from __future__ import annotations

import re

from bot.access import day, duration, until_midnight
from bot.command_base import Command, CommandArg, CommandContext, d
from bot.i18n import t

# "telegram:42", "42" (this platform), "@42" or a Discord mention "<@42>" / "<@!42>".
_TARGET = re.compile(r"(?:([a-z][a-z0-9_]*):)?<?@?!?([A-Za-z0-9_.-]{1,64})>?")


def target(ctx: CommandContext) -> tuple[str, str] | None:
    """The identity a /block or /unblock names: (platform, user id); None if it names none."""
    found = _TARGET.fullmatch(ctx.args.strip())
    if found is None:
        return None
    return found.group(1) or ctx.msg.key.platform, found.group(2)


async def _block(ctx: CommandContext) -> str:
    who = target(ctx)
    if who is None:
        return t("block_usage", ctx.lang, name="block")
    by = f"{ctx.msg.key.platform}:{ctx.msg.key.user_id}"
    done = await ctx.store.block(*who, by=by, now=ctx.now)
    name = ":".join(who)
    if f"{who[0]}:{who[1]}" in ctx.admins:
        return t("block_admin", ctx.lang, who=name)
    return t("block_done" if done else "block_already", ctx.lang, who=name)


async def _unblock(ctx: CommandContext) -> str:
    who = target(ctx)
    if who is None:
        return t("block_usage", ctx.lang, name="unblock")
    done = await ctx.store.unblock(*who)
    return t("unblock_done" if done else "unblock_none", ctx.lang, who=":".join(who))


async def _usage(ctx: CommandContext) -> str:
    rules = ctx.access
    key = ctx.msg.key
    standing = await ctx.store.standing(
        key.platform, key.user_id, day=day(ctx.now), burst=rules.burst
    )
    lang = ctx.lang
    if rules.daily_tokens > 0:
        budget = t("usage_budget", lang, limit=rules.daily_tokens)
    else:
        budget = t("usage_no_budget", lang)
    lines = [
        t(
            "usage_today",
            lang,
            messages=standing.messages_today,
            tokens=standing.tokens_today,
            budget=budget,
        )
    ]
    if ctx.is_admin:
        lines.append(t("usage_exempt", lang))
    else:
        if rules.rate_per_minute > 0:
            lines.append(t("usage_rate", lang, rate=rules.rate_per_minute, burst=rules.burst))
            wait = rules.wait(standing, ctx.now)
            if wait > 0:
                lines.append(t("usage_wait", lang, wait=duration(wait, lang)))
        if rules.spent(standing):
            lines.append(t("usage_spent", lang))
    lines.append(t("usage_reset", lang, reset=duration(until_midnight(ctx.now), lang)))
    return "\n".join(lines)


_WHO = (
    CommandArg(
        "user", d("platform:id, or an id here", "plataforma:id, o un id de aquí"), required=True
    ),
)

COMMANDS = (
    Command(
        "usage",
        d("Show how much you used today", "Muestra cuánto has usado hoy"),
        _usage,
        private=True,
    ),
    Command(
        "block",
        d("Block someone (admins only)", "Bloquea a alguien (solo administradores)"),
        _block,
        args=_WHO,
        admin_only=True,
        private=True,
    ),
    Command(
        "unblock",
        d("Unblock someone (admins only)", "Desbloquea a alguien (solo administradores)"),
        _unblock,
        args=_WHO,
        admin_only=True,
        private=True,
    ),
)
