"""The Gemini backend on google-genai: chat replies (chat.py) and embeddings (embed.py)."""

from bot.models.gemini.chat import DEFAULT_CONTEXT_TOKENS, GeminiModel, context_window
from bot.models.gemini.client import DEFAULT_BASE_URL, env_proxy
from bot.models.gemini.embed import GeminiEmbedder
from bot.models.retry import MAX_RETRY_DELAY

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CONTEXT_TOKENS",
    "MAX_RETRY_DELAY",
    "GeminiEmbedder",
    "GeminiModel",
    "context_window",
    "env_proxy",
]
