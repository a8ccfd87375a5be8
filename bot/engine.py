"""The conversation engine: one message in, a streamed reply out, remembered per user."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager

from bot import context
from bot.commands import REGISTRY, Command, CommandContext, parse_command
from bot.i18n import media_name, normalize_lang, t
from bot.models import ChatModel, ModelBlocked, ModelError, ModelUnavailable
from bot.types import IncomingMessage, Turn
from config.personas import Persona
from storage import memory as st
from storage.memory import Ingested, SqliteMemory

log = logging.getLogger(__name__)

# Streams the reply to one message; handed out by Engine.in_order().
Replier = Callable[[IncomingMessage], AsyncGenerator[str, None]]


class Engine:
    """Answers messages in order per user and chat, never blocking other users."""

    def __init__(
        self,
        memory: SqliteMemory,
        model: ChatModel,
        *,
        personas: Mapping[str, Persona],
        context_tokens: int = 3000,
        max_input_chars: int = 16000,
        default_lang: str = "en",
        default_persona: str = "assistant",
        admins: frozenset[str] = frozenset(),
        max_output_tokens: int = 1024,
    ) -> None:
        if default_persona not in personas:
            raise ValueError(f"unknown default persona {default_persona!r}")
        self.memory = memory
        self.model = model
        self.personas = personas
        self.max_input_chars = max_input_chars
        self.default_lang = default_lang
        self.default_persona = default_persona
        self.admins = admins
        self.registry: dict[str, Command] = dict(REGISTRY)
        # Room for the reply inside the model's window, whatever the setting says.
        self.context_tokens = max(
            64, min(context_tokens, model.context_tokens - max_output_tokens - 256)
        )
        # One lock per (platform, user, chat) that has a message in flight; entries vanish
        # when no task holds them, so memory stays flat however many users come and go.
        self._locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def commands(self) -> Sequence[Command]:
        return list(self.registry.values())

    async def language(self, msg: IncomingMessage) -> str:
        user = await self.memory.find_user(msg.platform, msg.user_id)
        return self._lang(msg, user.lang if user else None)

    def _lang(self, msg: IncomingMessage, chosen: str | None) -> str:
        return chosen or normalize_lang(msg.language) or self.default_lang

    def is_admin(self, msg: IncomingMessage) -> bool:
        # The console is the operator's own terminal.
        return msg.platform == "console" or f"{msg.platform}:{msg.user_id}" in self.admins

    def _lock(self, msg: IncomingMessage) -> asyncio.Lock:
        key = (msg.platform, msg.user_id, msg.chat_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    @asynccontextmanager
    async def in_order(self, msg: IncomingMessage) -> AsyncIterator[Replier]:
        """Hold this user's place in line; the yielded function streams the reply.

        Adapters enter this before their first await (before downloading an image or
        showing "typing"): asyncio.Lock is FIFO, so two quick messages from one user are
        answered in the order they arrived, whatever each one does before the model.
        """
        async with self._lock(msg):
            yield self._reply_in_line

    async def reply(self, msg: IncomingMessage) -> AsyncGenerator[str, None]:
        """Yield the reply in pieces; nothing for an empty or already-answered message."""
        async with self.in_order(msg) as reply, aclosing(reply(msg)) as pieces:
            async for piece in pieces:
                yield piece

    async def _reply_in_line(self, msg: IncomingMessage) -> AsyncGenerator[str, None]:
        answered = False
        try:
            async with aclosing(self._answer(msg)) as pieces:
                async for piece in pieces:
                    answered = True
                    yield piece
        except Exception:
            # A database that stays locked, a bug: the user still gets an answer.
            log.exception("could not answer a %s message", msg.platform)
            lang = normalize_lang(msg.language) or self.default_lang
            yield ("\n\n" if answered else "") + t("internal_error", lang)

    async def _answer(self, msg: IncomingMessage) -> AsyncGenerator[str, None]:
        text = msg.text.strip()
        if not text and not msg.images and not msg.unsupported:
            return
        command = parse_command(text) if msg.allow_commands and text[:1] == "/" else None
        status = st.PENDING
        if command is not None:
            status = st.COMMAND
        elif (
            msg.unsupported
            or len(text) > self.max_input_chars
            or msg.images
            and not self.model.accepts_images
        ):
            status = st.REJECTED
        # The user's turn is stored before anything else happens: nothing is lost.
        ingested = await self.memory.ingest(
            platform=msg.platform,
            platform_user_id=msg.user_id,
            display_name=msg.display_name,
            chat_id=msg.chat_id,
            platform_message_id=msg.message_id,
            text=text,
            status=status,
            tokens=self.model.estimate_tokens(text) if status == st.PENDING else 0,
            images=len(msg.images),
        )
        if ingested is None:
            log.info("duplicate %s message %s ignored", msg.platform, msg.message_id)
            return
        lang = self._lang(msg, ingested.user.lang)
        if command is not None:
            yield await self._run_command(msg, ingested, lang, *command)
        elif status == st.REJECTED:
            yield self._rejection(msg, text, lang)
        else:
            # aclosing: if our consumer stops early, the model's stream stops too and
            # the turn is recorded as interrupted while we still hold the lock.
            async with aclosing(self._generate(msg, ingested, text, lang)) as pieces:
                async for piece in pieces:
                    yield piece

    def _rejection(self, msg: IncomingMessage, text: str, lang: str) -> str:
        if msg.unsupported == "photo" and self.model.accepts_images:
            return t("image_unreadable", lang)  # the adapter could not download it
        if msg.unsupported:
            images = t("and_images", lang) if self.model.accepts_images else ""
            return t("unsupported", lang, kind=media_name(msg.unsupported, lang), images=images)
        if len(text) > self.max_input_chars:
            return t("too_long", lang, length=len(text), limit=self.max_input_chars)
        return t("no_images", lang, model=self.model.model)

    async def _run_command(
        self, msg: IncomingMessage, ingested: Ingested, lang: str, name: str, args: str
    ) -> str:
        cmd = self.registry.get(name)
        if cmd is None:
            return t("unknown_command", lang, name=name)
        admin = self.is_admin(msg)
        if cmd.admin_only and not admin:
            return t("admin_only", lang, name=name)
        ctx = CommandContext(
            msg=msg,
            user=ingested.user,
            lang=lang,
            args=args,
            memory=self.memory,
            model=self.model,
            personas=self.personas,
            default_persona=self.default_persona,
            registry=self.registry,
            is_admin=admin,
        )
        return await cmd.handler(ctx)

    async def _generate(
        self, msg: IncomingMessage, ingested: Ingested, text: str, lang: str
    ) -> AsyncGenerator[str, None]:
        user = ingested.user
        persona = self.personas.get(user.persona or "") or self.personas[self.default_persona]
        system = context.system_prompt(persona.prompt, lang)
        budget = self.context_tokens - self.model.estimate_tokens(system)
        budget -= self.model.estimate_tokens(text)
        stored = await self.memory.window(user.id, ingested.conversation_id)
        turns = context.fit_window(stored, max(budget, 0))
        turns.append(Turn("user", text, msg.images))

        started = time.monotonic()
        first_token_ms: int | None = None
        parts: list[str] = []
        status = st.INTERRUPTED
        notice = ""
        try:
            async with aclosing(self.model.stream(system, turns)) as stream:
                async for piece in stream:
                    if not piece:
                        continue
                    if first_token_ms is None:
                        first_token_ms = int((time.monotonic() - started) * 1000)
                    parts.append(piece)
                    yield piece
            status = st.OK if parts else st.FAILED
            notice = "" if parts else t("empty_reply", lang)
        except ModelBlocked:
            status, notice = st.BLOCKED, t("model_blocked", lang)
        except ModelUnavailable as exc:
            log.warning("model unavailable: %s", exc)
            status, notice = st.FAILED, t("model_unavailable", lang)
        except ModelError as exc:
            log.warning("model error: %s", exc)
            status, notice = st.FAILED, t("model_error", lang, reason=str(exc)[:200])
        except Exception:
            log.exception("model backend crashed")
            status, notice = st.FAILED, t("model_error", lang, reason="internal error")
        finally:
            # Runs on success, failure and when the consumer stops early (interrupted);
            # only an 'ok' turn is ever fed back to the model as context.
            reply = "".join(parts)
            await self.memory.complete(
                user.id,
                ingested,
                reply=reply,
                status=status,
                tokens=self.model.estimate_tokens(reply) if reply else 0,
                first_token_ms=first_token_ms,
                latency_ms=int((time.monotonic() - started) * 1000),
            )
        if notice:
            yield ("\n\n" if parts else "") + notice
