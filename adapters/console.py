"""The terminal chat: the embedded default surface, interactive or driven through a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import io
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TextIO

from adapters.console_input import LineReader, Unreadable
from adapters.console_keys import CtrlC
from adapters.console_text import RECORD_END, printable
from adapters.delivery import Body, Delivery, Policy, Rejected
from adapters.recovery import notes_for
from adapters.runtime import open_runtime
from adapters.session import Session
from bot.commands import parse_command
from bot.i18n import normalize_lang, t
from bot.types import Attachment, ConversationKey, IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)


def locale_hint() -> str | None:
    """The terminal's language ("es_ES.UTF-8" -> "es_ES"), as the platform hint."""
    hint = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG")
    return hint.split(".", 1)[0] if hint else None


class ConsoleSurface:
    """The terminal as a delivery surface: one endless page, each edit prints what is new,
    neutralised (`printable`): the model's text never reaches the terminal as controls.

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
        self._out.write(("\n" if self._shown else "") + printable(line))
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
        self._out.write(printable(new))  # no state: the tail cleans like the whole
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
    session: Session,
    files: Path,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    ctrl_c: CtrlC | None = None,
) -> None:
    """Answer one message per input line until end of input, or Ctrl-C means leaving.

    Files a reply brings go to `files`. Notes about the chat itself (an answer stopped,
    a line that is not text) go to `stderr`. Unless both ends are a terminal, every input
    line gets exactly one reply on `stdout`, each ended by RECORD_END (empty for a blank
    or unreadable line): a script pairs them by counting.
    """
    interactive = stdin.isatty() and stdout.isatty()
    keys = ctrl_c or CtrlC()
    user = getpass.getuser()
    hint = locale_hint()
    reader = LineReader(stdin, "› " if interactive else None)
    while not keys.leaving:
        line = await keys.unless_leaving(reader.readline())
        if line is None or keys.leaving:
            if interactive:
                stdout.write("\n")  # off the prompt's line
            return
        msg = console_message(line if isinstance(line, str) else "", user, hint)
        wrote = stopped = False
        if isinstance(line, Unreadable):
            key = "console_typed_not_text" if interactive else "console_line_not_text"
            encoding = line.encoding.upper()
            await _note(stderr, session, msg, key, line=line.number, encoding=encoding)
        else:
            # The language is read only if a file comes, inside the person's line like the reply.
            surface = ConsoleSurface(stdout, files, partial(session.engine.language, msg))
            stopped = await keys.run(session.handle(msg, surface))
            wrote = surface.wrote
        if wrote:
            stdout.write("\n")  # the reply's last line ends
            stdout.flush()
        if stopped and not keys.leaving:
            await _note(stderr, session, msg, "console_stopped")
        if not interactive:
            stdout.write(RECORD_END)
        elif (wrote or stopped or isinstance(line, Unreadable)) and not keys.leaving:
            stdout.write("\n")  # a blank line before the next prompt
        stdout.flush()


async def _note(
    out: TextIO, session: Session, msg: IncomingMessage, key: str, **kw: object
) -> None:
    """One line about the chat itself, in the person's language."""
    lang = await session.engine.language(msg)
    out.write(printable(t(key, lang, **kw)) + "\n")
    out.flush()


async def _recover(store: object, session: Session, settings: Settings) -> None:
    """One note on stderr (it is about the chat, not a reply) per answer a kill cut off."""
    notes = notes_for(
        store,
        session.engine,
        platform="console",
        processes=("chat",),
        button=False,  # the terminal has no ↻: the note names /retry
        default_lang=normalize_lang(locale_hint()) or settings.default_lang,
        policy=session.policy,
    )
    surface = ConsoleSurface(sys.stderr, settings.db.parent, _no_file)
    if notes is not None and await notes.once(lambda _: surface):
        sys.stderr.write("\n")  # the note's last line ends
        sys.stderr.flush()


async def _no_file() -> str:
    return "en"  # a note never carries a file: this wording is never used


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
                banner = t("console_banner", lang, backend=model.backend, model=model.model)
                if model.backend == "local":  # say what answers, and how to get better
                    banner += "\n" + t("local_notice", lang, model=model.model)
                print(printable(banner))
            # Every piece is printed as it comes: a terminal has no edit rate limit and
            # no cost per call, so nothing is held back either.
            session = Session(rt.engine, Policy(interval=0.0, first_wait=0.0), observer=rt.observer)
            await _recover(rt.store, session, settings)
            keys = CtrlC()
            with keys.catching():
                # An /export goes next to the database: the same data, the same protection.
                await chat(session, settings.db.parent, ctrl_c=keys)

    if isinstance(sys.stdout, io.TextIOWrapper):
        # A character the terminal's encoding lacks prints as "?" rather than losing the
        # whole reply to an encoding error.
        sys.stdout.reconfigure(errors="replace")
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0
