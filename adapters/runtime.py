"""The composition root: settings -> storage -> model -> engine, opened and closed once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.engine import Engine
from bot.models import ChatModel
from config.personas import load_personas
from config.settings import Settings
from storage.memory import SqliteMemory

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    """The long-lived parts one adapter process drives."""

    settings: Settings
    memory: SqliteMemory
    model: ChatModel
    engine: Engine


def build_model(settings: Settings) -> ChatModel:
    """The configured backend; each SDK is imported only when its backend is chosen."""
    backend = settings.chosen_backend()
    if backend == "gemini":
        from bot.models.gemini import GeminiModel

        assert settings.gemini_api_key is not None  # checked by load_settings
        return GeminiModel(
            settings.gemini_api_key.get_secret_value(),
            settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout=settings.model_timeout,
            retries=settings.model_retries,
            max_output_tokens=settings.max_output_tokens,
        )
    if backend == "openai":
        from bot.models.openai_compat import OpenAIModel

        key = settings.openai_api_key
        return OpenAIModel(
            key.get_secret_value() if key else None,
            settings.openai_model,
            base_url=settings.openai_base_url,
            timeout=settings.model_timeout,
            retries=settings.model_retries,
            max_output_tokens=settings.max_output_tokens,
        )
    from bot.models.local import LocalModel

    return LocalModel(
        settings.local_model,
        context=settings.local_context,
        threads=settings.local_threads,
        max_output_tokens=min(settings.max_output_tokens, settings.local_context // 2),
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings, model: ChatModel | None = None
) -> AsyncIterator[Runtime]:
    """Open storage and the model at start-up and close both at shutdown."""
    async with SqliteMemory(settings.db) as memory:
        model = model or build_model(settings)
        try:
            # Backends with heavy start-up (the local GGUF) load once, here, not per message.
            load = getattr(model, "load", None)
            if load is not None:
                await load()
            engine = Engine(
                memory,
                model,
                personas=load_personas(),
                context_tokens=settings.context_tokens,
                max_input_chars=settings.max_input_chars,
                default_lang=settings.default_lang,
                default_persona=settings.default_persona,
                admins=settings.admin_ids(),
                max_output_tokens=settings.max_output_tokens,
            )
            log.info("engine ready: %s %s, db %s", model.backend, model.model, settings.db)
            yield Runtime(settings, memory, model, engine)
        finally:
            await model.aclose()
