"""The OpenAI-compatible backend on the openai SDK: chat (chat.py) and embeddings (embed.py)."""

from bot.models.openai_compat.chat import OpenAIModel, context_window, vision_capable
from bot.models.openai_compat.client import PLACEHOLDER_KEY
from bot.models.openai_compat.embed import OpenAIEmbedder

__all__ = ["PLACEHOLDER_KEY", "OpenAIEmbedder", "OpenAIModel", "context_window", "vision_capable"]
