"""The command registry: one set of commands that every adapter exposes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot import access_commands, feedback_commands, memory_commands
from bot.command_base import Answer, Command, CommandArg, CommandContext, d
from bot.i18n import LANGS, t
from bot.types import CommandCall

__all__ = [
    "REGISTRY",
    "Answer",
    "Command",
    "CommandArg",
    "CommandContext",
    "parse_command",
    "run_command",
]

# "/name", "/name@botname" or "/name args"; "/etc/passwd" is text, not a command.
COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)


async def run_command(ctx: CommandContext, name: str) -> Answer:
    """Command `name` of `ctx.registry` run for the caller, or why it may not run."""
    lang = ctx.lang
    cmd = ctx.registry.get(name)
    if cmd is None:
        return Answer(t("unknown_command", lang, name=name))
    if cmd.admin_only and not ctx.is_admin:
        return Answer(t("admin_only", lang, name=name))
    public = cmd.personal and not (ctx.msg.is_direct or ctx.msg.private)
    if public and cmd.in_public is None:
        # It would show the person's own data to everyone in the group.
        return Answer(t("private_only", lang, name=name))
    answer = await (cmd.in_public if public and cmd.in_public else cmd.handler)(ctx)
    return answer if isinstance(answer, Answer) else Answer(answer)


def parse_command(text: str) -> CommandCall | None:
    """ "/name@bot args" as a command call; None when the text is not a command.

    For platforms whose commands arrive as text (Telegram, the terminal): their adapter
    converts the message once, and the engine never parses text itself.
    """
    match = COMMAND_RE.match(text.strip())
    if match is None:
        return None
    return CommandCall(match.group(1).lower(), (match.group(2) or "").strip())


def help_text(registry: Mapping[str, Command], lang: str, *, admin: bool) -> str:
    lines = [t("help_header", lang)]
    for cmd in registry.values():
        if cmd.admin_only and not admin:
            continue
        usage = " ".join(f"[{a.name}]" for a in cmd.args)
        lines.append(f"/{cmd.name}{' ' + usage if usage else ''} — {cmd.description[lang]}")
    return "\n".join(lines)


async def _start(ctx: CommandContext) -> str:
    name = ctx.msg.display_name or ("amigo" if ctx.lang == "es" else "there")
    helptext = help_text(ctx.registry, ctx.lang, admin=False)
    notice = local_notice(ctx)
    if notice:  # before the commands: a newcomer should know what answers them
        helptext = f"{notice}\n\n{helptext}"
    return t("start", ctx.lang, name=name, help=helptext)


def local_notice(ctx: CommandContext) -> str:
    """For the small offline model: what it is and how to connect a better one; else ""."""
    if ctx.model.backend != "local":
        return ""
    return t("local_notice", ctx.lang, model=ctx.model.model)


async def _help(ctx: CommandContext) -> str:
    return help_text(ctx.registry, ctx.lang, admin=ctx.is_admin)


async def _new(ctx: CommandContext) -> str:
    await ctx.store.new_conversation(ctx.user.id, ctx.msg.key.chat_id)
    return t("new_done", ctx.lang)


async def _persona(ctx: CommandContext) -> str:
    current = ctx.user.persona if ctx.user.persona in ctx.personas else ctx.default_persona
    wanted = ctx.args.strip().lower()
    if not wanted:
        items = "\n".join(
            f"{'•' if name == current else '◦'} {name} — {p.description(ctx.lang)}"
            for name, p in ctx.personas.items()
        )
        return t("persona_list", ctx.lang, current=current, items=items)
    persona = ctx.personas.get(wanted)
    if persona is None:
        return t("persona_unknown", ctx.lang, name=wanted, names=", ".join(ctx.personas))
    await ctx.store.set_persona(ctx.user.id, persona.name)
    return t("persona_set", ctx.lang, name=persona.name, description=persona.description(ctx.lang))


async def _model(ctx: CommandContext) -> str:
    images = t("yes" if ctx.model.accepts_images else "no", ctx.lang)
    info = t(
        "model_info", ctx.lang, backend=ctx.model.backend, model=ctx.model.model, images=images
    )
    # A chain (bot/models/fallback.py) lists the backends that answer when this one is down.
    fallbacks: tuple[str, ...] = getattr(ctx.model, "fallbacks", ())
    if fallbacks:
        info += "\n" + t("fallback_chain", ctx.lang, chain=" → ".join(fallbacks))
    notice = local_notice(ctx)
    return f"{info}\n\n{notice}" if notice else info


async def _lang(ctx: CommandContext) -> str:
    wanted = ctx.args.strip().lower()
    if not wanted:
        return t("lang_current", ctx.lang)
    if wanted not in LANGS:
        return t("lang_unknown", ctx.lang)
    await ctx.store.set_lang(ctx.user.id, wanted)
    return t("lang_set", wanted)


async def _stats(ctx: CommandContext) -> str:
    return t("stats", ctx.lang, **await ctx.store.stats())


REGISTRY: dict[str, Command] = {
    c.name: c
    for c in (
        Command("start", d("Say hello and show what I can do", "Saludo y lo que sé hacer"), _start),
        Command("help", d("List the commands", "Lista los comandos"), _help),
        Command(
            "new",
            d("Start a fresh conversation", "Empieza una conversación nueva"),
            _new,
            private=True,
        ),
        Command(
            "persona",
            d("List personas or switch to one", "Lista los personajes o cambia de personaje"),
            _persona,
            args=(CommandArg("name", d("Persona to use", "Personaje que usar")),),
            private=True,
        ),
        Command("model", d("Show the active model", "Muestra el modelo activo"), _model),
        *memory_commands.COMMANDS,
        *feedback_commands.COMMANDS,
        Command(
            "lang",
            d("Show or change my language", "Muestra o cambia mi idioma"),
            _lang,
            args=(CommandArg("language", d("en or es", "en o es"), choices=LANGS),),
            private=True,
        ),
        Command(
            "stats",
            d("Usage figures (admins only)", "Cifras de uso (solo administradores)"),
            _stats,
            admin_only=True,
            private=True,
        ),
        *access_commands.COMMANDS,
    )
}
