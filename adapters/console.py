"""The terminal chat: the embedded default surface, interactive or driven through a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TextIO

from adapters.delivery import Body, Delivery, Policy, Rejected
from adapters.runtime import open_runtime
from adapters.session import Session
from bot.commands import parse_command
from bot.i18n import normalize_lang, t
from bot.types import Attachment, ConversationKey, IncomingMessage
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
    """The terminal as a delivery surface: one endless page, each edit prints what is new.

    A reply's file is written into `files` (the database's directory: the data is already
    there) and its path printed, worded in the language `language()` gives.
    """

    limit = 1 << 30  # a terminal scrolls: no pages
    typing_every = 3600.0

    def __init__(self, out: TextIO, files: Path, language: Callable[[], Awaitable[str]]) -> None:
        self._out = out
        self._files = files
        self._language = language
        self._shown = ""
        self._attached = False

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

    async def attach(self, file: Attachment) -> None:
        try:
            path = await asyncio.to_thread(write_private, self._files, file)
        except OSError as exc:  # a full disk or a missing directory: trying again won't help
            raise Rejected(f"could not write {file.name!r}: {exc.strerror or exc}") from exc
        line = t("export_written", await self._language(), path=path)
        self._out.write(("\n" if self._shown else "") + line)
        self._out.flush()
        self._attached = True

    async def finish(self, delivered: Delivery[int]) -> None:
        return None

    @property
    def wrote(self) -> bool:
        return bool(self._shown) or self._attached

    def _write(self, text: str) -> None:
        # The page only grows while a reply streams; print the new tail.
        new = text[len(self._shown) :] if text.startswith(self._shown) else "\n" + text
        self._out.write(new)
        self._out.flush()
        self._shown = text


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """`name` as one plain file name: no directory, no hidden file, no character to quote."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(_UNSAFE.sub("_", base).lstrip("."))
    return (stem[:100] or "export") + suffix[:16]


def write_private(directory: Path, file: Attachment) -> Path:
    """Write `file` into `directory` under a name no file has yet, readable by its owner only."""
    path, fd = _create_new(directory.resolve(), safe_name(file.name))
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # exactly: an odd umask could take the owner's bits
            out.write(file.data)
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written copy of someone's data left behind
        raise
    return path


def _create_new(directory: Path, name: str) -> tuple[Path, int]:
    """A new file for writing: `name`, else `stem-1.ext`, `stem-2.ext`, ..."""
    stem, suffix = os.path.splitext(name)
    # O_EXCL never opens what exists (a dangling symlink included): nothing is overwritten.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for n in range(1000):
        path = directory / (f"{stem}-{n}{suffix}" if n else name)
        with contextlib.suppress(FileExistsError):
            return path, os.open(path, flags, 0o600)
    raise FileExistsError(errno.EEXIST, "no free file name", str(directory / name))


def console_message(line: str, user: str, hint: str | None) -> IncomingMessage:
    """A typed line as the engine reads it: "/help" is a command, anything else a message."""
    return IncomingMessage(
        key=ConversationKey("console", user, "console"),
        text=line,
        display_name=user,
        language=hint,
        command=parse_command(line) if line.startswith("/") else None,
    )


async def chat(
    session: Session, files: Path, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    """Answer one message per input line until end of input; files a reply brings go to `files`."""
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
        msg = console_message(line, user, hint)
        # The language is read only if a file comes, inside the person's line like the reply.
        surface = ConsoleSurface(stdout, files, partial(session.engine.language, msg))
        await session.handle(msg, surface)
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
            session = Session(rt.engine, Policy(interval=0.0, first_wait=0.0))
            # An /export goes next to the database: the same data, the same protection.
            await chat(session, settings.db.parent)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0
