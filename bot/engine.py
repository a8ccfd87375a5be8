"""The conversation engine: one message in, reply events out, remembered per person."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager

from bot import context
from bot.access import BUDGET_NOTICE_EVERY, DAY, OPEN, Access, day
from bot.asking import Asking, ask
from bot.commands import REGISTRY, Command, CommandContext, run_command
from bot.feedback_commands import clean_reason, feedback_text
from bot.i18n import normalize_lang, t
from bot.indexing import Indexer
from bot.intake import fetch_images, refused, rejection
from bot.learning import Learner
from bot.ports import ChatModel, Embedder, MemoryStore
from bot.prompting import Prompter
from bot.types import (
    Accepted,
    ConversationKey,
    Done,
    IncomingMessage,
    Ingested,
    Outcome,
    Persona,
    Rated,
    Redo,
    ReplyEvent,
    Standing,
    TurnKind,
    TurnRef,
)

log = logging.getLogger(__name__)


class Engine:
    """Answers messages in order per person and chat, never blocking other people."""

    def __init__(
        self,
        store: MemoryStore,
        model: ChatModel,
        *,
        personas: Mapping[str, Persona],
        context_tokens: int = 3000,
        max_input_chars: int = 16000,
        default_lang: str = "en",
        default_persona: str = "assistant",
        admins: frozenset[str] = frozenset(),
        facts_every: int = 0,
        summaries: bool = False,
        embedder: Embedder | None = None,
        embed_timeout: float = 2.0,
        access: Access = OPEN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if default_persona not in personas:
            raise ValueError(f"unknown default persona {default_persona!r}")
        self.store = store
        self.model = model
        self.personas = personas
        self.max_input_chars = max_input_chars
        self.default_lang = default_lang
        self.default_persona = default_persona
        self.admins = admins
        # Allow-lists and limits; their counters live in the store, shared by every process.
        self.access = access
        self.clock = clock
        self.registry: dict[str, Command] = dict(REGISTRY)
        # Room for the reply inside the model's window, whatever the setting says.
        self.context_tokens = max(
            64, min(context_tokens, model.context_tokens - model.max_output_tokens - 256)
        )
        # Facts and summaries are written by the model in the background, after delivery.
        # Folded a little before the turns' least share fills: the persona and the message
        # take their part of the budget first, and no turn may fall between the two.
        window = int(self.context_tokens * context.SHARES.turns * 0.8) if summaries else 0
        summary = int(self.context_tokens * context.SHARES.summary)
        self.learner = Learner(
            store, model, facts_every=facts_every, window_tokens=window, summary_tokens=summary
        )
        # Vectors for recall by meaning, when an embedder is configured.
        self.embedder = embedder
        self.prompter = Prompter(store, model, self.context_tokens, embedder, embed_timeout)
        self.indexer = Indexer(store, embedder) if embedder is not None else None
        # One lock per conversation key with a message in flight; entries vanish when no
        # task holds them, so memory stays flat however many people come and go.
        self._locks: weakref.WeakValueDictionary[ConversationKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def commands(self) -> Sequence[Command]:
        return list(self.registry.values())

    async def language(self, msg: IncomingMessage) -> str:
        """The language this person reads: their /lang choice, else the platform's hint."""
        try:
            user = await self.store.find_user(msg.key.platform, msg.key.user_id)
        except Exception:  # only used to word an error: a failing store must not hide it
            log.warning("could not read the user's language", exc_info=True)
            user = None
        return self._lang(msg, user.lang if user else None)

    def _lang(self, msg: IncomingMessage, chosen: str | None) -> str:
        return chosen or normalize_lang(msg.language) or self.default_lang

    def is_admin(self, msg: IncomingMessage) -> bool:
        # The console is the operator's own terminal.
        key = msg.key
        return key.platform == "console" or f"{key.platform}:{key.user_id}" in self.admins

    @asynccontextmanager
    async def in_order(self, key: ConversationKey) -> AsyncIterator[None]:
        """Hold this conversation's place in line while the block runs.

        Enter it before the first await of handling a message: asyncio.Lock is FIFO, so
        two quick messages from one person are answered in the order they arrived,
        whatever each one does on the way (downloads, "typing").
        """
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    async def reply(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        """answer() in this conversation's line: for callers with nothing to do before."""
        async with self.in_order(msg.key), aclosing(self.answer(msg)) as events:
            async for event in events:
                yield event

    async def undelivered(self, ref: TurnRef) -> None:
        """The platform never accepted this reply: it must never count as said."""
        if ref.replaces is not None:
            # A regenerated answer nobody saw: the answer it replaced stands again.
            await self.store.unsupersede(ref, Outcome.UNDELIVERED)
        else:
            await self.store.settle(ref, Outcome.UNDELIVERED)

    async def may_redo(self, msg: IncomingMessage, reply_id: int) -> tuple[Rated, str]:
        """Whether a ↻ pressed on `reply_id` would regenerate it, and if not, the line to
        show only the presser (a button's toast), before anything is stored or said."""
        user = await self.store.find_user(msg.key.platform, msg.key.user_id)
        lang = self._lang(msg, user.lang if user else None)
        if user is None:
            return Rated.NOT_YOURS, feedback_text(Rated.NOT_YOURS, None, lang)
        rated = await self.store.redoable(user.ids, msg.key.chat_id, reply_id)
        return rated, "" if rated is Rated.OK else feedback_text(rated, None, lang)

    async def rate(
        self, msg: IncomingMessage, reply_id: int | None, rating: int | None, reason: str = ""
    ) -> tuple[Rated, str]:
        """A button's rating of an answer (the newest in the chat when `reply_id` is None),
        and what to tell the person who pressed it, in their language."""
        user = await self.store.find_user(msg.key.platform, msg.key.user_id)
        lang = self._lang(msg, user.lang if user else None)
        if user is None:  # never talked to the bot: nothing here is theirs
            return Rated.NOT_YOURS, feedback_text(Rated.NOT_YOURS, rating, lang)
        if reply_id is None:
            reply_id = await self.store.latest_reply(user.ids, msg.key.chat_id)
            if reply_id is None:
                return Rated.GONE, t("rate_nothing", lang)
        why = clean_reason(reason)
        rated = await self.store.rate(user.ids, reply_id, rating, why)
        return rated, feedback_text(rated, rating, lang, reason=why is not None)

    async def delivered(self, ref: TurnRef) -> None:
        """The person saw this reply in full: what they said may now be remembered."""
        self.learner.after_reply(ref)
        if self.indexer is not None:
            self.indexer.kick()

    async def open(self) -> None:
        """Start background work: turns stored while the bot was down get their vectors."""
        if self.indexer is not None:
            self.indexer.kick()

    async def close(self) -> None:
        """Stop background upkeep (what it had not finished is redone next time)."""
        await self.learner.close()
        if self.indexer is not None:
            await self.indexer.close()

    async def answer(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        """Text pieces ending with one Done; nothing at all for a repeat or an empty message.

        The caller holds the conversation's line (in_order). Never raises: a failure is
        a Done with a localised notice.
        """
        done = False
        ref: TurnRef | None = None
        try:
            async with aclosing(self._answer(msg)) as events:
                async for event in events:
                    if isinstance(event, Accepted):
                        ref = event.ref
                    done = isinstance(event, Done)
                    yield event
        except Exception:
            # A database that stays locked, a bug: the person still gets an answer.
            log.exception("could not answer a %s message", msg.key.platform)
            if not done:
                notice = t("internal_error", self._lang(msg, None))
                yield Done(ref, Outcome.FAILED, notice)

    async def _answer(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        text = msg.text.strip()
        call = msg.command
        if call is None and not text and not msg.images and not msg.unsupported:
            return
        now = self.clock()
        standing = await self._standing(msg, now)
        if standing is not None and (standing.blocked or not self.access.admits(msg)):
            # Nothing is stored and nothing reaches the model: what a refused person says
            # is not ours to keep. One short notice a day at most, then silence.
            key = msg.key
            if await self.store.notify(key.platform, key.user_id, "access", now=now, every=DAY):
                yield t("access_refused", await self.language(msg))
                yield Done(None, Outcome.OK)
            return
        limited: tuple[str, float] | None = None
        if call is not None:
            kind = TurnKind.COMMAND
            text = text or f"/{call.name} {call.args}".strip()
        elif refused(msg, text, self.max_input_chars, self.model.accepts_images):
            kind = TurnKind.REJECTED
        elif standing is not None and (limited := self.access.limited(standing, now)):
            # Over a limit: kept as refused input, never answered later (nor by /retry).
            kind = TurnKind.REJECTED
        else:
            kind = TurnKind.CHAT
        # The user's turn is stored before anything else happens: nothing is lost.
        storing = asyncio.ensure_future(
            self.store.ingest(
                msg.key,
                display_name=msg.display_name,
                platform_message_id=msg.message_id,
                text=text,
                kind=kind,
                tokens=self.model.estimate_tokens(text) if kind is TurnKind.CHAT else 0,
                images=len(msg.images),
            )
        )
        try:
            ingested = await asyncio.shield(storing)
        except asyncio.CancelledError:
            # Stopped (Ctrl-C, a drain) while the turn was being written: the write lands
            # all the same, so it is settled interrupted rather than left pending forever.
            if (stored := await storing) is not None and kind is TurnKind.CHAT:
                await self.store.settle(stored.ref, Outcome.INTERRUPTED)
            raise
        if ingested is None:
            log.info("duplicate %s message %s ignored", msg.key.platform, msg.message_id)
            return
        lang = self._lang(msg, ingested.user.lang)
        if limited is not None:
            reason, wait = limited
            # One notice per rate window (or per hour, for the budget); silence between.
            every = self.access.window if reason == "rate" else BUDGET_NOTICE_EVERY
            key = msg.key
            if await self.store.notify(key.platform, key.user_id, reason, now=now, every=every):
                yield self.access.notice(reason, wait, lang)
                yield Done(ingested.ref, Outcome.OK)
            return
        if call is not None:
            ctx = self._command_context(msg, ingested, lang, call.args, now)
            answer = await run_command(ctx, call.name)
            if answer.redo is not None and standing is not None:
                limited = self.access.limited(standing, now)  # ↻ asks the model too
                if limited is not None:
                    yield self.access.notice(*limited, lang)
                    yield Done(ingested.ref, Outcome.OK)
                    return
            if answer.redo is not None:
                # /retry (or ↻): a new answer to an earlier turn, through the usual path.
                redo = answer.redo
                async with aclosing(self._generate(msg, ingested, redo.text, lang, redo)) as again:
                    async for event in again:
                        yield event
                return
            yield answer.text
            yield Done(ingested.ref, Outcome.OK, attachment=answer.attachment)
        elif kind is TurnKind.REJECTED:
            model = self.model
            yield rejection(
                msg, text, lang, self.max_input_chars, model.accepts_images, model.model
            )
            yield Done(ingested.ref, Outcome.OK)
        else:
            async with aclosing(self._generate(msg, ingested, text, lang)) as events:
                async for event in events:
                    yield event

    async def _standing(self, msg: IncomingMessage, now: float) -> Standing | None:
        """The sender's block and use so far; None for the operator (admins, the console
        and the dashboard's playground), whom no rule limits."""
        if self.is_admin(msg) or msg.key.platform == "dashboard":
            return None
        key = msg.key
        return await self.store.standing(
            key.platform, key.user_id, day=day(now), burst=self.access.burst
        )

    def _command_context(
        self, msg: IncomingMessage, ingested: Ingested, lang: str, args: str, now: float
    ) -> CommandContext:
        return CommandContext(
            msg=msg,
            user=ingested.user,
            lang=lang,
            args=args,
            store=self.store,
            model=self.model,
            personas=self.personas,
            default_persona=self.default_persona,
            registry=self.registry,
            is_admin=self.is_admin(msg),
            conversation_id=ingested.ref.conversation_id,
            access=self.access,
            admins=self.admins,
            now=now or self.clock(),
        )

    async def _generate(
        self,
        msg: IncomingMessage,
        ingested: Ingested,
        text: str,
        lang: str,
        redo: Redo | None = None,
    ) -> AsyncGenerator[ReplyEvent, None]:
        """Ask the model for the answer to `text`: the message just stored, or with `redo`
        an earlier turn answered again in the context it had (the answer that stood is
        replaced once the new one is recorded ok)."""
        ref = ingested.ref
        # As the person's persona now; an answer asked for again, as the one it replaces.
        chosen = ingested.user.persona
        if redo is not None:
            ref = TurnRef(ref.user_id, ref.conversation_id, redo.prompt_id, replaces=redo.kept)
            chosen = redo.persona if redo.persona in self.personas else chosen
        persona = self.personas.get(chosen or "") or self.personas[self.default_persona]
        asking = Asking(time.monotonic())
        asked = False
        tokens = 0
        latency_ms: int | None = None
        try:
            yield Accepted(ref)
            images = await fetch_images(msg.images) if redo is None else ()
            if images is None:
                asking.outcome, asking.notice = Outcome.FAILED, t("image_unreadable", lang)
            else:
                before = redo.prompt_id if redo is not None else None
                system, turns = await self.prompter.build(
                    msg, ingested, text, images, lang, persona, before
                )
                asked = True
                async with aclosing(ask(self.model, system, turns, text, lang, asking)) as answer:
                    async for piece in answer:
                        yield piece
        except Exception:
            asking.outcome = Outcome.FAILED  # the store or a bug; answer() words the notice
            raise
        finally:
            # Runs on success, failure and when the consumer stops early; only an `ok`
            # chat exchange is ever fed back to the model as context.
            if asked:
                reply = asking.reply
                record = self.store.complete if ref.replaces is None else self.store.complete_again
                tokens = self.model.estimate_tokens(reply) if reply else 0
                latency_ms = int((time.monotonic() - asking.started) * 1000)
                ref = await record(
                    ref,
                    reply=reply,
                    outcome=asking.outcome,
                    tokens=tokens,
                    first_token_ms=asking.first_token_ms,
                    persona=persona.name,
                    latency_ms=latency_ms,
                )
            elif redo is None:  # an earlier exchange asked again keeps what it had
                await self.store.settle(ref, asking.outcome)
        yield Done(
            ref,
            asking.outcome,
            asking.notice,
            tokens=tokens,
            latency_ms=latency_ms,
            first_token_ms=asking.first_token_ms if asked else None,
        )
