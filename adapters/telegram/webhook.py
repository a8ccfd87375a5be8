"""Telegram's webhook mode on aiohttp: updates POSTed by Telegram, an unreadable one skipped.

python-telegram-bot's own webhook server (tornado) answers an update it cannot parse with
400 and logs it whole at CRITICAL, the person's text included; Telegram then sends it again
and again, holding back the updates behind it. Here each update is read first, as in
polling (adapters.telegram.http.read_update): one that fails is logged once, without its
text, and acknowledged with 200 so Telegram moves on. Readable ones go to the
application's update queue, the documented way to feed PTB from a custom webhook.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Bot, Update

from adapters.telegram.http import read_update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few KB; Telegram's own limit for a POST is far lower


class Webhook:
    """The local HTTP server Telegram POSTs updates to, and the setWebhook call naming it."""

    def __init__(
        self,
        bot: Bot,
        queue: asyncio.Queue[object],
        *,
        listen: str,
        port: int,
        url_path: str,
        webhook_url: str,
        secret_token: str,
        allowed_updates: list[str],
    ) -> None:
        self.bot, self.queue = bot, queue
        self.listen, self.port = listen, port
        self.path = "/" + url_path.strip("/")
        self.url, self.allowed = webhook_url, allowed_updates
        self._secret = secret_token.encode()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen first, then tell Telegram where: no update is posted before we can take it."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self._receive)
        # No access log: the path is public, but nothing about who wrote needs logging.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.listen, self.port).start()
            await self.bot.set_webhook(
                self.url, secret_token=self._secret.decode(), allowed_updates=self.allowed
            )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop taking updates. The webhook stays set: Telegram keeps them until we are back."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403)  # not from Telegram
        try:
            data: Any = await request.json()
        except ValueError:
            log.warning("skipped a webhook request whose body is not JSON")
            return web.Response(status=200)  # sent again it would fail again
        update = read_update(data, self.bot)
        if isinstance(update, Update):
            await self.queue.put(update)
        return web.Response(status=200)
