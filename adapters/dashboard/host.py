"""The playground's engine: the composition root's runtime on its own event loop thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator

from adapters.delivery import Body, Delivery, Policy
from adapters.runtime import Runtime, open_runtime
from adapters.session import Session
from bot.commands import parse_command
from bot.types import Attachment, ConversationKey, IncomingMessage
from config.settings import Settings

log = logging.getLogger(__name__)

# The playground talks to the engine as one account of its own, in one chat.
KEY = ConversationKey("dashboard", "playground", "playground")
CLOSE_SECONDS = 30.0
OPEN_SECONDS = 120.0  # a store or model that never opens: an error on the page, not a hang


class StreamSurface:
    """A reply as a stream of new text: each send or edit hands over what was added."""

    limit = 1 << 30  # one endless page, as in the terminal
    typing_every = 3600.0

    def __init__(self, put: Callable[[str], None]) -> None:
        self._put = put
        self._shown = ""
        self.files: list[Attachment] = []

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
        self.files.append(file)  # offered as a download under the reply

    async def finish(self, delivered: Delivery[int]) -> None:
        return None

    def _write(self, text: str) -> None:
        # The page only grows while a reply streams; hand over the new tail.
        new = text[len(self._shown) :] if text.startswith(self._shown) else "\n\n" + text
        if new:
            self._put(new)
        self._shown = text


class Playground:
    """One runtime per server process, opened once and closed when the process ends.

    Streamlit runs each script on a thread of its own and reruns it on every click, while
    the store's connections belong to the event loop that opened them: so the runtime
    lives on one loop thread, and each reply crosses over through a queue.
    """

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        # Not a daemon (Streamlit's script threads are, and a new thread inherits that), nor
        # then are the store's connection threads it starts: they close before Python exits.
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="playground", daemon=False
        )
        self._thread.start()
        self._stop = asyncio.Event()
        # No vectors and no background learning here: the engine's indexer embeds every
        # person's backlog (and would send it to an embedding API from the operator's
        # dashboard); the playground writes its own turns and nothing else.
        settings = settings.model_copy(update={"embedder": "none", "learn": "off"})
        opened: concurrent.futures.Future[Runtime] = concurrent.futures.Future()
        self._life = asyncio.run_coroutine_threadsafe(self._live(settings, opened), self._loop)
        try:
            self.runtime = opened.result(OPEN_SECONDS)
        except BaseException:
            self._end_loop()
            raise
        # Every piece goes out as it comes: a browser has no edit rate limit.
        self.session = Session(
            self.runtime.engine,
            Policy(interval=0.0, first_wait=0.0),
            observer=self.runtime.observer,
        )
        self._closed = False
        threading.Thread(target=self._close_at_exit, name="playground-exit", daemon=True).start()

    async def _live(self, settings: Settings, opened: concurrent.futures.Future[Runtime]) -> None:
        # The runtime is entered and left by this one task, as open_runtime expects.
        try:
            async with open_runtime(settings) as rt:
                opened.set_result(rt)
                await self._stop.wait()
        except BaseException as exc:
            if opened.done():
                raise
            opened.set_exception(exc)

    def stream(self, text: str, lang: str, files: list[Attachment]) -> Iterator[str]:
        """The reply to `text` piece by piece, for st.write_stream; its files go into `files`."""
        pieces: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        surface = StreamSurface(pieces.put)
        msg = IncomingMessage(
            KEY,
            text,
            display_name="Playground",
            language=lang,
            command=parse_command(text) if text.startswith("/") else None,
        )
        handled = asyncio.run_coroutine_threadsafe(self.session.handle(msg, surface), self._loop)
        handled.add_done_callback(lambda _: pieces.put(None))
        try:
            while (piece := pieces.get()) is not None:
                yield piece
        finally:
            # If the page went away mid-answer, the reply is recorded as interrupted.
            handled.cancel()
            files.extend(surface.files)

    def rate(self, reply_id: int, rating: int | None) -> None:
        """Rate one of the playground's own answers (1, -1, or None to take it back)."""
        asyncio.run_coroutine_threadsafe(self._rate(reply_id, rating), self._loop).result(10)

    async def _rate(self, reply_id: int, rating: int | None) -> None:
        store = self.runtime.store
        user = await store.find_user(KEY.platform, KEY.user_id)
        if user is not None:
            await store.rate(user.ids, reply_id, rating)

    def close(self) -> None:
        """Close the runtime (replies in flight are cut) and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._stop.set)
        try:
            self._life.result(CLOSE_SECONDS)
        except Exception:
            log.warning("the playground did not close cleanly", exc_info=True)
        self._end_loop()

    def _end_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_SECONDS)
        if not self._thread.is_alive():
            self._loop.close()

    def _close_at_exit(self) -> None:
        # Returns when the main thread ends (the server stopped), before Python waits for
        # the store's non-daemon connection threads, which close() lets finish.
        threading.main_thread().join()
        with contextlib.suppress(Exception):
            self.close()
