"""The terminal chat: the embedded default surface, interactive or driven through a pipe."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import queue
import sys
import threading
from typing import TextIO

from adapters.delivery import Body, Delivery, Policy
from adapters.runtime import open_runtime
from adapters.session import Session
from bot.commands import parse_command
from bot.i18n import normalize_lang, t
from bot.types import ConversationKey, IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)


class LineReader:
    """Reads stdin on a daemon thread, one line per request.

    The default executor would do, but asyncio.run() joins its threads on exit, so Ctrl-C
    at the prompt would hang until Enter; a daemon thread never holds up the exit.
    """

    def __init__(self, stdin: TextIO, prompt: str | None) -> None:
        self._stdin = stdin
        self._prompt = prompt  # None: not a terminal, read raw lines
        self._loop = asyncio.get_running_loop()
        self._requests: queue.SimpleQueue[asyncio.Future[str | None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="stdin", daemon=True).start()

    async def readline(self) -> str | None:
        """The next line without its newline; None at end of input."""
        future: asyncio.Future[str | None] = self._loop.create_future()
        self._requests.put(future)
        return await future

    def _serve(self) -> None:
        while True:
            future = self._requests.get()
            line: str | None
            if self._prompt is not None:
                try:
                    line = input(self._prompt)  # line editing when readline is present
                except EOFError:
                    line = None
            else:
                raw = self._stdin.readline()
                line = raw.rstrip("\n") if raw else None
            self._loop.call_soon_threadsafe(_resolve, future, line)
            if line is None:
                return


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def locale_hint() -> str | None:
    """The terminal's language ("es_ES.UTF-8" -> "es_ES"), as the platform hint."""
    hint = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG")
    return hint.split(".", 1)[0] if hint else None


class ConsoleSurface:
    """The terminal as a delivery surface: one endless page, each edit prints what is new."""

    limit = 1 << 30  # a terminal scrolls: no pages
    typing_every = 3600.0

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._shown = ""

    def measure(self, text: str) -> int:
        return len(text)

    def render(self, page: str) -> Body:
        return Body(page)

    async def typing(self) -> None:
        return None

    async def send(self, body: Body) -> int:
        self._write(body.text)
        return 0

    async def edit(self, message: int, body: Body) -> None:
        self._write(body.text)

    async def finish(self, delivered: Delivery[int]) -> None:
        return None

    @property
    def wrote(self) -> bool:
        return bool(self._shown)

    def _write(self, text: str) -> None:
        # The page only grows while a reply streams; print the new tail.
        new = text[len(self._shown) :] if text.startswith(self._shown) else "\n" + text
        self._out.write(new)
        self._out.flush()
        self._shown = text


def console_message(line: str, user: str, hint: str | None) -> IncomingMessage:
    """A typed line as the engine reads it: "/help" is a command, anything else a message."""
    return IncomingMessage(
        key=ConversationKey("console", user, "console"),
        text=line,
        display_name=user,
        language=hint,
        command=parse_command(line) if line.startswith("/") else None,
    )


async def chat(session: Session, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Answer one message per input line until end of input."""
    interactive = stdin.isatty() and stdout.isatty()
    user = getpass.getuser()
    hint = locale_hint()
    reader = LineReader(stdin, "› " if interactive else None)
    while True:
        line = await reader.readline()
        if line is None:
            if interactive:
                stdout.write("\n")
            return
        surface = ConsoleSurface(stdout)
        await session.handle(console_message(line, user, hint), surface)
        if surface.wrote:
            stdout.write("\n\n" if interactive else "\n")
            stdout.flush()


def main(settings: Settings, *, say_how_to_connect: bool = False) -> int:
    """Run the terminal chat until Ctrl-D or Ctrl-C."""

    async def run() -> None:
        if say_how_to_connect:
            lang = normalize_lang(locale_hint()) or settings.default_lang
            print(t("how_to_connect", lang), file=sys.stderr)
        async with open_runtime(settings) as rt:
            if sys.stdin.isatty() and sys.stdout.isatty():
                lang = normalize_lang(locale_hint()) or settings.default_lang
                model = rt.model
                print(t("console_banner", lang, backend=model.backend, model=model.model))
            # Every piece is printed as it comes: a terminal has no edit rate limit and
            # no cost per call, so nothing is held back either.
            await chat(Session(rt.engine, Policy(interval=0.0, first_wait=0.0)))

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0
