"""The terminal chat: the embedded default surface, interactive or driven through a pipe."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from contextlib import aclosing
from typing import TextIO

from adapters.runtime import open_runtime
from bot.engine import Engine
from bot.i18n import normalize_lang, t
from bot.types import IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)


def locale_hint() -> str | None:
    """The terminal's language ("es_ES.UTF-8" -> "es_ES"), as the platform hint."""
    hint = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG")
    return hint.split(".", 1)[0] if hint else None


async def chat(engine: Engine, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Answer one message per input line until end of input."""
    interactive = stdin.isatty() and stdout.isatty()
    user = getpass.getuser()
    hint = locale_hint()
    if interactive:
        lang = normalize_lang(hint) or engine.default_lang
        banner = t("console_banner", lang, backend=engine.model.backend, model=engine.model.model)
        stdout.write(banner + "\n")
    while True:
        if interactive:
            # input() gives line editing when readline is present; it runs off the loop.
            try:
                line = await asyncio.to_thread(input, "› ")
            except EOFError:
                stdout.write("\n")
                return
        else:
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                return
        msg = IncomingMessage(
            platform="console",
            user_id=user,
            chat_id="console",
            text=line.rstrip("\n"),
            display_name=user,
            language=hint,
        )
        wrote = False
        async with aclosing(engine.reply(msg)) as pieces:
            async for piece in pieces:
                stdout.write(piece)
                stdout.flush()
                wrote = True
        if wrote:
            stdout.write("\n\n" if interactive else "\n")
            stdout.flush()


def main(settings: Settings, *, say_how_to_connect: bool = False) -> int:
    """Run the terminal chat until Ctrl-D or Ctrl-C."""

    async def run() -> None:
        if say_how_to_connect:
            lang = normalize_lang(locale_hint()) or settings.default_lang
            print(t("how_to_connect", lang), file=sys.stderr)
        async with open_runtime(settings) as rt:
            await chat(rt.engine)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0
