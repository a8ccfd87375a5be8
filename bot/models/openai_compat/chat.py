"""OpenAI-compatible chat completions (OpenAI, Ollama, llama-server, vLLM, ...)."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import openai

from bot.models import rough_tokens
from bot.models.openai_compat.client import (
    PLACEHOLDER_KEY,
    REQUEST_ERRORS,
    check,
    describe,
    is_transient,
    make_client,
    retry_after,
    translate,
)
from bot.models.retry import Retry, retried
from bot.ports import ModelBlocked, ModelError
from bot.types import Turn

log = logging.getLogger(__name__)

# Names that accept image parts. Matched against the bare name: no "provider/" prefix
# (OpenRouter) and no ":tag" suffix (Ollama). Unknown names fall back to text only.
_VISION = re.compile(
    r"^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-4-turbo|gpt-5|o[134](?![0-9])"
    r"|llava|bakllava|gemma-?3|qwen2(\.5)?-?vl|minicpm-v|pixtral|moondream|granite3\.2-vision"
    r"|llama-?4|mistral-small-?3\.[12]|gemini|claude-3|claude-(opus|sonnet|haiku)-4)"
    r"|vision|-vl\b"
)
# Members of vision families that only take text or audio.
_NOT_VISION = re.compile(r"^o1-(mini|preview)|^o3-mini|audio|realtime|transcribe|tts")

# Longest prefix wins; values are the provider's documented context windows.
_CONTEXT: tuple[tuple[str, int], ...] = (
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("o1-mini", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
)
# Ollama's default num_ctx; a safe guess for any server we do not know.
DEFAULT_CONTEXT = 4_096


async def _texts(response: openai.AsyncStream[object]) -> AsyncGenerator[str, None]:
    """The text deltas of a streamed completion; ModelBlocked when the content filter stops it."""
    async for chunk in response:
        for choice in _choices(chunk):
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                yield text
            if choice.get("finish_reason") == "content_filter":
                raise ModelBlocked("openai: the provider's content filter stopped the reply")


def _choices(chunk: object) -> list[dict[str, Any]]:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _bare(name: str) -> str:
    return name.lower().rsplit("/", 1)[-1].split(":", 1)[0]


def vision_capable(name: str) -> bool:
    """Whether the model name is known to accept images; False for unknown names."""
    bare = _bare(name)
    return bool(_VISION.search(bare)) and not _NOT_VISION.search(bare)


def context_window(name: str) -> int:
    """The model's context window in tokens from a prefix table, or a safe default."""
    bare = _bare(name)
    for prefix, tokens in sorted(_CONTEXT, key=lambda p: -len(p[0])):
        if bare.startswith(prefix):
            return tokens
    return DEFAULT_CONTEXT


class OpenAIModel:
    """Streams chat completions through the official `openai` SDK (AsyncOpenAI)."""

    backend = "openai"

    def __init__(
        self,
        api_key: str | None,
        model: str = "gpt-4o-mini",
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        max_output_tokens: int = 1024,
        context_tokens: int | None = None,
        backoff: float = 1.0,
        deadline: float = 90.0,
    ) -> None:
        self.model = model
        self.accepts_images = vision_capable(model)
        self.context_tokens = context_tokens or context_window(model)
        self.max_output_tokens = max_output_tokens
        self._key = api_key or PLACEHOLDER_KEY
        # api.openai.com wants max_completion_tokens (o-series and gpt-5 reject max_tokens);
        # compatible servers (Ollama, llama-server) mostly know only max_tokens.
        self._classic_limit = base_url is not None
        self._timeout = timeout
        # Attempts and the pauses between them end `deadline` s after a reply was asked for.
        self._retry = Retry(max(0, retries), backoff, deadline)
        self._client = make_client(self._key, base_url, timeout=timeout, retries=0)

    def estimate_tokens(self, text: str) -> int:
        return rough_tokens(text)

    async def open(self) -> None:
        """Check the key and the model with one cheap call at start-up (client.check)."""
        await check(self._client, self.model, key=self._key, seconds=self._timeout)

    async def close(self) -> None:
        await self._client.close()

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        """Yield the reply's text deltas; raise ModelError subclasses on failure."""
        # api.openai.com wants max_completion_tokens (o-series and gpt-5 reject max_tokens).
        limit = "max_tokens" if self._classic_limit else "max_completion_tokens"
        body = {
            "model": self.model,
            "messages": self._messages(system, turns),
            "stream": True,
            limit: self.max_output_tokens,
        }
        try:
            # Retried only until the first text: after that the person has seen words.
            response, texts, first = await retried(
                lambda: self._open(body),
                self._retry,
                transient=is_transient,
                server_delay=retry_after,
                describe=lambda exc: describe(exc, self._key),
                what="openai",
                log=log,
            )
        except REQUEST_ERRORS as exc:
            # `from None`: the SDK error can echo a masked key and the whole request.
            raise self._translate(exc) from None
        try:
            if first:
                yield first
            async for text in texts:
                yield text
        except REQUEST_ERRORS as exc:
            raise self._translate(exc) from None
        finally:  # also when the consumer stops early: the HTTP response is released now
            await texts.aclose()
            await response.close()

    async def _open(
        self, body: dict[str, Any]
    ) -> tuple[openai.AsyncStream[object], AsyncGenerator[str, None], str]:
        """Send the request and read up to its first text ("" for an answer with none)."""
        # The SDK's client (auth, errors, SSE) with the body as it is and each chunk as
        # plain JSON: chat.completions.create() re-transforms the whole history on every
        # call and builds a model object per chunk, a cost that grew with the context.
        # Stored turns never change: there is nothing to transform.
        response = await self._client.post(
            "/chat/completions",
            cast_to=object,
            body=body,
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )
        texts = _texts(response)
        try:
            first = await anext(texts, "")
        except BaseException:
            await texts.aclose()
            await response.close()
            raise
        return response, texts, first

    def _messages(self, system: str, turns: Sequence[Turn]) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        for turn in turns:
            # Only user turns may carry image parts in the chat completions API.
            if turn.role == "user" and turn.images and self.accepts_images:
                parts: list[dict[str, Any]] = []
                if turn.text:
                    parts.append({"type": "text", "text": turn.text})
                for image in turn.images:
                    url = f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode()}"
                    parts.append({"type": "image_url", "image_url": {"url": url}})
                messages.append({"role": "user", "content": parts})
            else:
                messages.append({"role": turn.role, "content": turn.text})
        return messages

    def _translate(self, exc: BaseException) -> ModelError:
        return translate(
            exc, what="openai", model=self.model, key=self._key, base_url=self._client.base_url
        )
