"""The commands that give each person control of their memory: see it, add to it, erase it,
take it away, and link their accounts on other platforms."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time

from bot.command_base import Answer, Command, CommandArg, CommandContext, d
from bot.i18n import t
from bot.types import Attachment, LinkOutcome

FACT_CHARS = 300
LINK_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L to misread
LINK_LENGTH = 8
LINK_SECONDS = 600.0
LINK_ATTEMPTS = 5  # per identity per LINK_SECONDS: a code cannot be found by guessing
_FACT_ID = re.compile(r"#?(\d{1,18})")


def link_code() -> str:
    """A new one-time code: 8 characters, about 40 bits, easy to type on a phone."""
    return "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))


def code_hash(code: str) -> str:
    """How a code is kept: only its hash, over the code as typed with any case or dashes."""
    clean = re.sub(r"[\s-]", "", code).upper()
    return hashlib.sha256(clean.encode()).hexdigest()


async def _remember(ctx: CommandContext) -> str:
    text = " ".join(ctx.args.split())
    if not text:
        return t("remember_usage", ctx.lang)
    if len(text) > FACT_CHARS:
        return t("remember_too_long", ctx.lang, limit=FACT_CHARS)
    fact = await ctx.store.remember(
        ctx.user.id, text, chat_id=ctx.msg.key.chat_id, told=True, identities=ctx.user.ids
    )
    if fact is None:
        return t("remember_known", ctx.lang)
    return t("remember_done", ctx.lang, id=fact.id)


async def _memory(ctx: CommandContext) -> str:
    facts = await ctx.store.facts(ctx.user.ids)
    conversations, messages = await ctx.store.holdings(ctx.user.ids)
    lines = [t("memory_header", ctx.lang, conversations=conversations, messages=messages)]
    if len(ctx.user.ids) > 1:
        lines.append(t("memory_linked", ctx.lang, count=len(ctx.user.ids) - 1))
    if facts:
        lines.append(t("memory_facts", ctx.lang))
        for fact in facts:
            day = time.strftime("%Y-%m-%d", time.gmtime(fact.created_at))
            told = t("memory_told", ctx.lang) if fact.told else ""
            lines.append(f"#{fact.id} · {day}{told} · {fact.text}")
        lines.append(t("memory_how_to_forget", ctx.lang))
    else:
        lines.append(t("memory_no_facts", ctx.lang))
    return "\n".join(lines)


async def _forget(ctx: CommandContext) -> str:
    what = ctx.args.strip().lower()
    if what in ("confirm", "confirmar"):
        count = await ctx.store.forget(ctx.user.id)
        return t("forget_done", ctx.lang, count=count)
    if (one := _FACT_ID.fullmatch(what)) is not None:
        fact_id = int(one.group(1))
        if await ctx.store.drop_fact(ctx.user.ids, fact_id):
            return t("forget_fact_done", ctx.lang, id=fact_id)
        return t("forget_fact_unknown", ctx.lang, id=fact_id)
    return t("forget_confirm", ctx.lang)


async def _export(ctx: CommandContext) -> Answer:
    data = await ctx.store.export(ctx.user.id)
    body = json.dumps(data, ensure_ascii=False, indent=1).encode()
    day = time.strftime("%Y%m%d", time.gmtime())
    name = f"tertulia-{ctx.msg.key.platform}-{day}.json"
    messages = sum(len(c["messages"]) for c in data["conversations"])
    text = t(
        "export_done",
        ctx.lang,
        conversations=len(data["conversations"]),
        messages=messages,
        facts=len(data["facts"]),
    )
    return Answer(text, Attachment(name, body, "application/json"))


async def _link(ctx: CommandContext) -> str:
    typed = ctx.args.strip()
    if not typed:
        code = link_code()
        await ctx.store.issue_link(ctx.user.id, code_hash(code), time.time() + LINK_SECONDS)
        shown = f"{code[:4]}-{code[4:]}"
        minutes = int(LINK_SECONDS // 60)
        return t("link_code", ctx.lang, code=shown, plain=code, minutes=minutes)
    outcome = await ctx.store.redeem_link(
        ctx.user.id, code_hash(typed), max_attempts=LINK_ATTEMPTS, per_seconds=LINK_SECONDS
    )
    lang = ctx.lang
    if outcome is LinkOutcome.LINKED:
        # From now on the person's language is the one they chose on the other platform.
        joined = await ctx.store.find_user(ctx.msg.key.platform, ctx.msg.key.user_id)
        lang = joined.lang if joined is not None and joined.lang else lang
    return t(f"link_{outcome.value}", lang)


async def _link_in_public(ctx: CommandContext) -> str:
    """/link where others see it: a code typed there is burnt, never redeemed."""
    if ctx.args.strip():
        await ctx.store.burn_link(code_hash(ctx.args))
        return t("link_burnt", ctx.lang)
    return t("private_only", ctx.lang, name="link")


async def _unlink(ctx: CommandContext) -> str:
    if await ctx.store.unlink(ctx.user.id):
        return t("unlink_done", ctx.lang)
    return t("unlink_none", ctx.lang)


COMMANDS: tuple[Command, ...] = (
    Command(
        "remember",
        d("Tell me something to remember about you", "Dime algo que recordar sobre ti"),
        _remember,
        args=(CommandArg("text", d("What to remember", "Qué recordar"), required=True),),
        private=True,
    ),
    Command(
        "memory",
        d("What I remember about you", "Lo que recuerdo de ti"),
        _memory,
        private=True,
        personal=True,
    ),
    Command(
        "forget",
        d("Forget one fact, or everything about you", "Olvida un dato, o todo sobre ti"),
        _forget,
        args=(
            CommandArg(
                "what",
                d(
                    "A fact's number from /memory, or confirm to erase everything",
                    "El número de un dato de /memory, o confirm para borrarlo todo",
                ),
            ),
        ),
        private=True,
    ),
    Command(
        "export",
        d("Get all your data as a file", "Recibe todos tus datos en un archivo"),
        _export,
        private=True,
        personal=True,
    ),
    Command(
        "link",
        d(
            "Link your account on another platform",
            "Vincula tu cuenta de otra plataforma",
        ),
        _link,
        in_public=_link_in_public,
        args=(
            CommandArg(
                "code", d("The code from the other platform", "El código de la otra plataforma")
            ),
        ),
        private=True,
        personal=True,
    ),
    Command(
        "unlink",
        d("Separate this account from the linked ones", "Separa esta cuenta de las vinculadas"),
        _unlink,
        private=True,
    ),
)
