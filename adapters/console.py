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
from bot.types import IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)


async def chat(
    engine: Engine, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, banner: str = ""
) -> None:
    """Answer one message per input line until end of input."""
    interactive = stdin.isatty() and stdout.isatty()
    user = getpass.getuser()
    hint = os.environ.get("LC_ALL") or os.environ.get("LANG")
    if interactive and banner:
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
            language=hint.split(".", 1)[0] if hint else None,
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


def main(settings: Settings, *, hint: str = "") -> int:
    """Run the terminal chat until Ctrl-D or Ctrl-C."""

    async def run() -> None:
        async with open_runtime(settings) as rt:
            banner = (
                f"tertulia · {rt.model.backend}: {rt.model.model} · /help for commands, "
                "Ctrl-D to quit"
            )
            if hint:
                print(hint, file=sys.stderr)
            await chat(rt.engine, banner=banner)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0
