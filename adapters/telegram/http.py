"""The Bot API's HTTP transport on aiohttp: one pooled session, the proxy read from the env once."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Mapping
from typing import IO, Any

import aiohttp
from telegram import Bot, Update
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

log = logging.getLogger(__name__)

# PTB's HTTPXRequest defaults in seconds: read, write, connect, pool; uploads get 20 s to write.
TIMEOUTS = (5.0, 5.0, 5.0, 1.0)
UPLOAD_WRITE_TIMEOUT = 20.0
# Part name -> (file name, content, MIME type), as python-telegram-bot hands over uploads.
Uploads = Mapping[str, tuple[str | None, bytes | IO[bytes], str]]


def timeouts(given: tuple[Any, ...], *, upload: bool, unset: object) -> tuple[Any, ...]:
    """Read, write, connect and pool timeouts: `unset` means "not given": use ours; None, no limit."""
    defaults = (TIMEOUTS[0], UPLOAD_WRITE_TIMEOUT, *TIMEOUTS[2:]) if upload else TIMEOUTS
    return tuple(
        default if value is unset else value for value, default in zip(given, defaults, strict=True)
    )


class HttpTimeout(Exception):
    """Connecting, waiting for a free connection or reading the answer took too long."""


class HttpFailure(Exception):
    """The request failed on the network (refused, reset, closed mid-answer...)."""


class HttpSession:
    """Keep-alive connections to the Bot API, shared by every call of one bot.

    With 100 calls in flight a PTB call cost ~1.5 ms of CPU on httpx, PTB's default (a third
    of it in httpcore's pool bookkeeping), and ~0.2-0.3 ms on aiohttp: see bench_telegram.
    """

    def __init__(self, *, pool: int, user_agent: str) -> None:
        self.pool = pool
        self.headers = {"User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], URL | None] = {}

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def open(self) -> None:
        if self.closed:
            # trust_env would read ~/.netrc and the proxy variables in a worker thread on
            # every request: `_proxy` reads the variables once per host instead.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool, limit_per_host=0),
                headers=self.headers,
                trust_env=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        method: str,
        url: str,
        fields: Mapping[str, str] | None = None,
        files: Uploads | None = None,
        *,
        read: float | None,
        write: float | None,
        connect: float | None,
        pool: float | None,
    ) -> tuple[int, bytes]:
        """Send one request (form fields, multipart if there are files); (status, body)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("HttpSession is not open")
        data: aiohttp.FormData | Mapping[str, str] | None = fields
        if files:
            form = aiohttp.FormData(dict(fields or {}))
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename or name, content_type=mime)
            data = form
        # aiohttp's `connect` covers waiting for a pooled connection plus opening one. It has
        # no write timeout (sock_read starts once the body is out): the sum bounds the call.
        waiting = None if connect is None or pool is None else connect + pool
        whole = None if waiting is None or read is None or write is None else waiting + read + write
        timeout = aiohttp.ClientTimeout(
            total=whole, connect=waiting, sock_connect=connect, sock_read=read
        )
        target = URL(url)
        try:
            async with self._session.request(
                method, target, data=data, timeout=timeout, proxy=self._proxy(target)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts subclass it (and ClientError)
            raise HttpTimeout(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise HttpFailure(_describe(exc)) from exc

    def _proxy(self, url: URL) -> URL | None:
        key = (url.scheme, url.host or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies()  # HTTP(S)_PROXY, ALL_PROXY; NO_PROXY below
            proxy = proxies.get(url.scheme) or proxies.get("all")
            bypass = proxy is None or urllib.request.proxy_bypass(url.host or "")
            self._proxies[key] = URL(proxy) if proxy is not None and not bypass else None
        return self._proxies[key]


def _describe(exc: aiohttp.ClientError) -> str:
    # Never the URL: it carries the bot token, and these errors end up in logs.
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__} ({exc.status})"
    if isinstance(exc, aiohttp.InvalidURL):
        return type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class AiohttpRequest(BaseRequest):
    """PTB's networking on `HttpSession` (aiohttp) instead of httpx: see that class for why."""

    def __init__(self, pool: int) -> None:
        self.http = HttpSession(pool=pool, user_agent=self.USER_AGENT)

    @property
    def read_timeout(self) -> float | None:
        return TIMEOUTS[0]

    async def initialize(self) -> None:
        await self.http.open()

    async def shutdown(self) -> None:
        await self.http.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        files = (
            request_data.multipart_data if request_data and request_data.contains_files else None
        )
        given = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        # DEFAULT_NONE means "not given": use ours. None means "no limit".
        read, write, connect, pool = timeouts(
            given, upload=bool(files), unset=BaseRequest.DEFAULT_NONE
        )
        try:
            return await self.http.call(
                method,
                url,
                request_data.json_parameters if request_data else None,
                files,
                read=read,
                write=write,
                connect=connect,
                pool=pool,
            )
        except HttpTimeout as exc:
            raise TimedOut(str(exc)) from exc
        except HttpFailure as exc:
            raise NetworkError(str(exc)) from exc


class UpdatesRequest(AiohttpRequest):
    """getUpdates on aiohttp: an update python-telegram-bot cannot read is skipped, not retried.

    PTB parses a batch whole: one unreadable update fails it, and the Updater asks again at
    once for the same batch, forever, logging every update's text each time. Each update is
    read here first; one that fails becomes a bare `{"update_id": N}`, which PTB confirms
    like any other and no handler takes.
    """

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, body = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if status != 200 or not url.endswith("/getUpdates"):
            return status, body
        return status, readable_updates(body)


def readable_updates(body: bytes) -> bytes:
    """A getUpdates answer with every update PTB cannot read reduced to its update_id."""
    try:
        answer = json.loads(body)
        updates = answer["result"]
    except (ValueError, TypeError, KeyError):
        return body  # not a batch of updates: PTB reports it as it does
    if not isinstance(updates, list):
        return body
    kept: list[Any] = []
    changed = False
    for update in updates:
        if read_update(update, None) is None:
            uid = update.get("update_id") if isinstance(update, dict) else None
            if isinstance(uid, int):  # without an id it cannot be confirmed: just left out
                kept.append({"update_id": uid})
            changed = True
            continue
        kept.append(update)
    if not changed:
        return body
    answer["result"] = kept
    return json.dumps(answer).encode()


def read_update(data: object, bot: Bot | None) -> Update | None:
    """`data` as PTB's Update; None, with one warning, if python-telegram-bot cannot read it."""
    try:
        update = Update.de_json(data, bot)  # type: ignore[arg-type]
        if update is None:
            raise TypeError("not an update")
        return update
    except Exception as exc:
        uid = data.get("update_id") if isinstance(data, dict) else None
        # Never the update itself, nor the error's text: either may quote a message.
        log.warning(
            "skipped telegram update %s: python-telegram-bot cannot read it (%s)",
            uid,
            type(exc).__name__,
        )
        return None
