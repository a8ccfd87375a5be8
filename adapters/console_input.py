"""The terminal chat's input: lines read off the event loop, and bytes that are not text."""

from __future__ import annotations

import asyncio
import codecs
import logging
import queue
import threading
from dataclasses import dataclass
from typing import TextIO

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Input line `number` is not text in `encoding` (Latin-1 bytes in a UTF-8 pipe): skipped."""

    number: int
    encoding: str


Line = str | Unreadable | None  # None: the end of input


class LineReader:
    """Reads stdin on a daemon thread, one line per request.

    The default executor would do, but asyncio.run() joins its threads on exit, so Ctrl-C
    at the prompt would hang until Enter; a daemon thread never holds up the exit.
    """

    def __init__(self, stdin: TextIO, prompt: str | None) -> None:
        self._stdin = stdin
        self._prompt = prompt  # None: not a terminal, read raw lines
        self._encoding = codecs.lookup(getattr(stdin, "encoding", None) or "utf-8").name
        self._count = 0
        self._loop = asyncio.get_running_loop()
        self._requests: queue.SimpleQueue[asyncio.Future[Line]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="stdin", daemon=True).start()

    async def readline(self) -> Line:
        """The next line without its line end; Unreadable if it is not text; None at the end."""
        future: asyncio.Future[Line] = self._loop.create_future()
        self._requests.put(future)
        return await future

    def _serve(self) -> None:
        while True:
            future = self._requests.get()
            line: Line
            try:
                line = self._read()
            except (OSError, ValueError) as exc:  # a closed or vanished stdin: the end
                log.debug("stdin ended: %s", exc)
                line = None
            self._loop.call_soon_threadsafe(_resolve, future, line)
            if line is None:
                return

    def _read(self) -> Line:
        self._count += 1
        line = self._line()
        if isinstance(line, str) and not _encodable(line):
            # Bytes smuggled in as surrogates (stdin's "surrogateescape" in a C locale):
            # no better as text, and no database or model would take them.
            return Unreadable(self._count, self._encoding)
        return line

    def _line(self) -> Line:
        if self._prompt is not None:
            try:
                return input(self._prompt)  # line editing when readline is present
            except EOFError:
                return None
            except UnicodeDecodeError:  # a terminal set to another encoding
                return Unreadable(self._count, self._encoding)
        buffer = getattr(self._stdin, "buffer", None)
        if buffer is None:  # a text stream with no bytes beneath it (io.StringIO)
            text = self._stdin.readline()
        else:
            # Decoded here, line by line: one bad line is reported and skipped, where
            # the text layer would raise and lose the rest of the input with it.
            raw = buffer.readline()
            try:
                text = raw.decode(self._encoding)
            except UnicodeDecodeError:
                return Unreadable(self._count, self._encoding)
        if not text:
            return None
        if self._count == 1:
            text = text.removeprefix("\ufeff")  # the byte order mark some editors write
        return text.rstrip("\r\n")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _resolve(future: asyncio.Future[Line], line: Line) -> None:
    if not future.done():  # Ctrl-C may have given up waiting for this line
        future.set_result(line)
