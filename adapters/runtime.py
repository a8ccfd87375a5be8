"""The composition root: settings -> store -> model -> engine -> session, opened and closed once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters import metrics
from adapters.delivery import Policy
from adapters.observe import Observer
from adapters.platforms import CONFIG_ERROR
from adapters.session import Session
from bot import models
from bot.access import Access
from bot.engine import Engine
from bot.models.fallback import FallbackModel, MemberRefused
from bot.ports import ChatModel, Embedder, MemoryStore, ModelError, ModelUnavailable
from bot.types import Persona
from config.personas import load_personas
from config.settings import Settings, SettingsError
from storage.sqlite import SqliteStore

__all__ = ["CONFIG_ERROR", "Runtime", "open_runtime", "personas", "run_platform"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    """The long-lived parts one adapter process drives."""

    settings: Settings
    store: MemoryStore
    model: ChatModel
    engine: Engine
    session: Session
    observer: Observer  # the per-reply log line; the metrics too, when they are served


def personas() -> dict[str, Persona]:
    """The shipped personas as the engine takes them."""
    return {
        name: Persona(
            name, entry["prompt"], {"en": entry["description_en"], "es": entry["description_es"]}
        )
        for name, entry in load_personas().items()
    }


def build_model(settings: Settings) -> ChatModel:
    """The configured backend, looked up by name; only its SDK is imported. With
    TERTULIA_FALLBACK, a chain of it and its fallbacks (bot/models/fallback.py)."""
    name = settings.chosen_backend()
    primary = models.build(name, settings.backend_options(name))
    chain = [primary]
    for fallback in settings.fallback_backends():
        try:
            chain.append(models.build(fallback, settings.backend_options(fallback)))
        except ModelError as exc:  # e.g. no local model file to fall back on
            raise SettingsError(f"TERTULIA_FALLBACK: {exc}") from None
    if len(chain) == 1:
        return primary
    return FallbackModel(chain, deadline=settings.model_deadline)


def build_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, if any; only its SDK is imported."""
    name = settings.chosen_embedder()
    return None if name is None else models.make_embedder(name, **settings.embedder_options(name))


async def open_model(settings: Settings, model: ChatModel) -> None:
    """Open the model (and check its key): a key or model the server refuses stops start-up
    with one line naming the variable to fix; the model is closed again on any failure."""
    try:
        await model.open()
    except BaseException as exc:
        await model.close()
        if isinstance(exc, models.OptionRefused):
            backend = exc.backend if isinstance(exc, MemberRefused) else model.backend
            variable = settings.backend_variable(backend, exc.option)
            raise SettingsError(f"{variable}: {exc}") from None
        raise


async def open_embedder(
    embedder: Embedder | None, settings: Settings | None = None
) -> Embedder | None:
    """Open the embedder: an unreachable one leaves recall by words, a broken one stops,
    and a key or model its server refuses stops start-up naming the variable to fix."""
    if embedder is None:
        return None
    try:
        await embedder.open()
    except models.OptionRefused as exc:
        await embedder.close()
        name = settings.chosen_embedder() if settings is not None else None
        if settings is None or name is None:
            raise ModelError(f"TERTULIA_EMBEDDER: {exc}") from None
        option = "embedding_model" if exc.option == "model" else exc.option
        raise SettingsError(f"{settings.backend_variable(name, option)}: {exc}") from None
    except ModelUnavailable as exc:
        log.warning("recall by meaning is off until a restart: %s", exc)
        await embedder.close()
        return None
    except ModelError as exc:
        await embedder.close()
        raise ModelError(f"TERTULIA_EMBEDDER: {exc}") from None
    return embedder


def access(settings: Settings) -> Access:
    """The engine's allow-lists and limits, from the settings."""
    users, chats, guilds = settings.allowed()
    return Access(
        allowed_users=users,
        allowed_chats=chats,
        allowed_guilds=guilds,
        rate_per_minute=settings.rate_per_minute,
        burst=settings.rate_burst,
        daily_tokens=settings.daily_tokens,
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, model: ChatModel | None = None, store: MemoryStore | None = None
) -> AsyncIterator[Runtime]:
    """Open the store and the model at start-up and close both at shutdown."""
    store = store or SqliteStore(settings.db)
    await store.open()
    try:
        model = model or build_model(settings)
        # Heavy start-up (the local GGUF) happens once, here, never per message.
        await open_model(settings, model)
        learns = settings.learns(model.backend)
        embedder = build_embedder(settings)
        try:
            embedder = await open_embedder(embedder, settings)
            engine = Engine(
                store,
                model,
                personas=personas(),
                context_tokens=settings.context_tokens,
                max_input_chars=settings.max_input_chars,
                default_lang=settings.default_lang,
                default_persona=settings.default_persona,
                admins=settings.admin_ids(),
                access=access(settings),
                facts_every=settings.facts_every if learns else 0,
                summaries=learns,
                embedder=embedder,
            )
            policy = Policy(
                interval=settings.edit_interval,
                deadline=settings.delivery_deadline,
                first_wait=settings.first_wait,
            )
            observer = Observer(await store.log_salt())
            session = Session(engine, policy, grace=settings.drain_seconds, observer=observer)
            log.info("engine ready: %s %s, db %s", model.backend, model.model, settings.db)
            await engine.open()
            try:
                yield Runtime(settings, store, model, engine, session, observer)
            finally:
                await engine.close()  # background upkeep stops before its model does
        finally:
            if embedder is not None:
                await embedder.close()
            await model.close()
    finally:
        await store.close()


Serve = Callable[[Runtime, asyncio.Event], Awaitable[int]]


def run_platform(settings: Settings, serve: Serve) -> int:
    """A platform process: open the runtime, `serve` until SIGTERM or SIGINT, close it all."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with open_runtime(settings) as rt:
            if settings.metrics_port is None:
                return await serve(rt, stop)
            async with metrics.serving(settings, lambda: rt.session.busy) as served:
                rt.observer.metrics = served
                return await serve(rt, stop)

    return asyncio.run(main())
