"""The command registry: one set of commands that every adapter exposes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.i18n import LANGS, t
from bot.ports import ChatModel, MemoryStore
from bot.types import CommandCall, IncomingMessage, Persona, User

# "/name", "/name@botname" or "/name args"; "/etc/passwd" is text, not a command.
COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a command handler may use: the caller, their language and the engine's parts."""

    msg: IncomingMessage
    user: User
    lang: str
    args: str
    store: MemoryStore
    model: ChatModel
    personas: Mapping[str, Persona]
    default_persona: str
    registry: Mapping[str, Command]
    is_admin: bool = False


Handler = Callable[[CommandContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class CommandArg:
    """One optional or required argument, described in each language."""

    name: str
    description: Mapping[str, str]
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    """A command every adapter exposes (Telegram menu, Discord app command, console)."""

    name: str
    description: Mapping[str, str]
    handler: Handler
    args: tuple[CommandArg, ...] = ()
    admin_only: bool = False
    # The answer concerns the user's own data: Discord shows it only to them.
    private: bool = False


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
    return t("start", ctx.lang, name=name, help=helptext)


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
    return t(
        "model_info", ctx.lang, backend=ctx.model.backend, model=ctx.model.model, images=images
    )


async def _forget(ctx: CommandContext) -> str:
    confirm = ctx.args.strip().lower()
    if confirm not in ("confirm", "confirmar"):
        return t("forget_confirm", ctx.lang)
    count = await ctx.store.forget(ctx.user.id)
    return t("forget_done", ctx.lang, count=count)


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


def _d(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


REGISTRY: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "start", _d("Say hello and show what I can do", "Saludo y lo que sé hacer"), _start
        ),
        Command("help", _d("List the commands", "Lista los comandos"), _help),
        Command(
            "new",
            _d("Start a fresh conversation", "Empieza una conversación nueva"),
            _new,
            private=True,
        ),
        Command(
            "persona",
            _d("List personas or switch to one", "Lista los personajes o cambia de personaje"),
            _persona,
            args=(CommandArg("name", _d("Persona to use", "Personaje que usar")),),
            private=True,
        ),
        Command("model", _d("Show the active model", "Muestra el modelo activo"), _model),
        Command(
            "forget",
            _d("Erase everything stored about you", "Borra todo lo guardado sobre ti"),
            _forget,
            args=(
                CommandArg(
                    "confirm",
                    _d("Type confirm to erase", "Escribe confirm para borrar"),
                    choices=("confirm",),
                ),
            ),
            private=True,
        ),
        Command(
            "lang",
            _d("Show or change my language", "Muestra o cambia mi idioma"),
            _lang,
            args=(CommandArg("language", _d("en or es", "en o es"), choices=LANGS),),
            private=True,
        ),
        Command(
            "stats",
            _d("Usage figures (admins only)", "Cifras de uso (solo administradores)"),
            _stats,
            admin_only=True,
            private=True,
        ),
    )
}
