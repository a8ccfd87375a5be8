"""Model backends, looked up by name: each module here is the only importer of its SDK."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from bot.ports import ChatModel

# name -> "module:class". Adding a backend is its module plus one line here; the class
# takes its settings as keyword arguments (config.settings.Settings.backend_options).
BACKENDS: dict[str, str] = {
    "gemini": "bot.models.gemini:GeminiModel",
    "openai": "bot.models.openai_compat:OpenAIModel",
    "local": "bot.models.local:LocalModel",
}


def backend(name: str) -> Callable[..., ChatModel]:
    """The backend class called `name`, imported only now: a process loads one SDK."""
    module, _, attr = BACKENDS[name].partition(":")
    factory: Callable[..., ChatModel] = getattr(importlib.import_module(module), attr)
    return factory


def build(name: str, options: dict[str, Any]) -> ChatModel:
    """A backend instance from its settings (not yet opened)."""
    return backend(name)(**options)


def rough_tokens(text: str) -> int:
    """Estimate tokens as one per four characters, the usual rule for English and Spanish."""
    return len(text) // 4 + 1
