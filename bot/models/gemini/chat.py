"""Gemini chat: streams replies from Google's Gemini API with google-genai."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from bot.models import CHECK_TIMEOUT, OptionRefused, rough_tokens
from bot.models.gemini.client import (
    REQUEST_ERRORS,
    Client,
    describe,
    failure,
    is_transient,
    redactor,
    refused_option,
    retry_delay,
)
from bot.models.retry import Retry, retried
from bot.ports import ModelBlocked, ModelError
from bot.types import Turn

log = logging.getLogger(__name__)

# Longest matching prefix wins; a model name we do not know gets the safe default.
_CONTEXT_WINDOWS: dict[str, int] = {
    "gemini-1.0-pro": 30_720,
    "gemini-1.5-pro": 2_097_152,
    "gemini-1.5-flash": 1_048_576,
    "gemini-2": 1_048_576,
    "gemini-3": 1_048_576,
    "gemini-flash": 1_048_576,
    "gemini-pro": 1_048_576,
    "gemma-3n": 32_768,
    "gemma-3": 131_072,
}
DEFAULT_CONTEXT_TOKENS = 32_768

# Finish reasons that mean the provider withheld the answer.
_BLOCKING = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"})


def context_window(model: str) -> int:
    """The model's context size in tokens, from its name; unknown names get a safe default."""
    name = model.removeprefix("models/")
    best = max((p for p in _CONTEXT_WINDOWS if name.startswith(p)), key=len, default=None)
    return _CONTEXT_WINDOWS[best] if best else DEFAULT_CONTEXT_TOKENS


class GeminiModel:
    """A ChatModel backed by one long-lived google-genai client."""

    backend = "gemini"
    accepts_images = True

    def __init__(
        self,
        api_key: str,
        model: str = "gemini-flash-latest",
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        max_output_tokens: int = 1024,
        backoff: float = 1.0,
        total_timeout: float = 300.0,
        deadline: float = 90.0,
    ) -> None:
        self.model = model
        self._model_path = (
            model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        )
        self.context_tokens = context_window(model)
        self._timeout = timeout
        # Attempts and the pauses between them end `deadline` s after a reply was asked for.
        self._retry = Retry(max(0, retries), backoff, deadline)
        self.max_output_tokens = max_output_tokens
        self._redact = redactor(api_key)
        # aiohttp applies the client's timeout to the whole response, body included, so it
        # bounds a full answer; `timeout` (first chunk, gaps between chunks) is ours.
        self._client = Client(api_key, base_url, max(timeout, total_timeout))

    def _api(self) -> Any:
        """The SDK's API client, which sends every request (auth, base URL, errors)."""
        return self._client.sdk().aio._api_client

    def estimate_tokens(self, text: str) -> int:
        """A cheap estimate: counting exactly would cost a request per message."""
        return rough_tokens(text)

    async def open(self) -> None:
        """Check the key and the model with one cheap call (models.get) at start-up.

        A refused key or an unknown model raises OptionRefused: better now than at the
        first message. An unreachable or failing server only logs: it may come back.
        """
        try:
            async with asyncio.timeout(min(self._timeout, CHECK_TIMEOUT)):
                await self._client.sdk().aio.models.get(model=self._model_path)
        except REQUEST_ERRORS as exc:
            reason = " ".join(self._redact(describe(exc)).split())
            option = refused_option(exc)
            if option == "api_key":
                raise OptionRefused(option, f"Gemini refused the key: {reason}") from None
            if option == "model":
                message = f"Gemini has no model {self.model!r}: {reason}"
                raise OptionRefused(option, message) from None
            log.warning("Gemini: cannot check the key and model now (%s); starting anyway", reason)

    async def close(self) -> None:
        """Close the client's HTTP sessions; call once at shutdown."""
        await self._client.close()

    def _request(self, system: str, turns: Sequence[Turn]) -> dict[str, Any]:
        """The streamGenerateContent body in the API's own JSON shape.

        Built from plain dicts: the SDK's generate_content_stream() converts and
        validates the whole history through pydantic on every call (and every streamed
        chunk back), which made the cost of a message grow with its context. Stored
        turns never change, so there is nothing to validate: this is only the request
        bytes. The SDK's client still sends it (auth, base URL, timeouts, errors).
        """
        contents = [c for c in (_content(t) for t in turns) if c is not None]
        request: dict[str, Any] = {
            "contents": contents,
            "generationConfig": {"maxOutputTokens": self.max_output_tokens},
        }
        if system:
            request["systemInstruction"] = {"parts": [{"text": system}]}
        return request

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        """Yield the reply in chunks; retry transient failures only before the first text."""
        request = self._request(system, turns)
        try:
            # An attempt that fails closes its own stream (_open); one that succeeds is ours.
            responses, first = await retried(
                lambda: self._open(dict(request)),
                self._retry,
                transient=is_transient,
                server_delay=retry_delay,
                describe=lambda exc: self._redact(describe(exc)),
                what="Gemini",
                log=log,
            )
        except REQUEST_ERRORS as exc:
            raise failure(exc, "Gemini", self._redact) from exc
        try:
            yield first
            # From here on text has reached the user: a failure ends the turn, never a retry.
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        response = await anext(responses)
                except StopAsyncIteration:
                    break
                except REQUEST_ERRORS as exc:
                    raise failure(exc, "Gemini", self._redact) from exc
                text = _text(_chunk(response))
                if text:
                    yield text
        finally:
            await _close(responses)

    async def _open(self, request: dict[str, Any]) -> tuple[AsyncIterator[Any], str]:
        """Start a request and read up to its first text (errors surface on the first read)."""
        responses: AsyncIterator[Any] | None = None
        finish = ""
        # The SDK's own request path, minus the pydantic round trips (see _request).
        api = self._api()
        path = f"{self._model_path}:streamGenerateContent?alt=sse"
        try:
            async with asyncio.timeout(self._timeout):
                responses = await api.async_request_streamed("post", path, request)
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        response = await anext(responses)
                except StopAsyncIteration:
                    break
                chunk = _chunk(response)
                finish = _finish_reason(chunk) or finish
                text = _text(chunk)
                if text:
                    return responses, text
        except BaseException:
            await _close(responses)
            raise
        await _close(responses)
        if finish == "MAX_TOKENS":
            raise ModelError("Gemini used its whole output budget before writing any text")
        raise ModelError("Gemini returned an empty answer")


def _content(turn: Turn) -> dict[str, Any] | None:
    # Images before the text: Google's advice for single-image prompts.
    parts: list[dict[str, Any]] = [
        {"inlineData": {"mimeType": i.mime_type, "data": base64.b64encode(i.data).decode()}}
        for i in turn.images
    ]
    if turn.text:
        parts.append({"text": turn.text})
    if not parts:
        return None  # the API rejects a turn with no parts
    return {"role": "model" if turn.role == "assistant" else "user", "parts": parts}


def _chunk(response: Any) -> dict[str, Any]:
    """One streamed response as the API's JSON (the SDK hands over its raw body)."""
    body = getattr(response, "body", None)
    parsed = json.loads(body) if body else {}
    return parsed if isinstance(parsed, dict) else {}


def _candidate(chunk: dict[str, Any]) -> dict[str, Any]:
    candidates = chunk.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    return first if isinstance(first, dict) else {}


def _finish_reason(chunk: dict[str, Any]) -> str:
    return str(_candidate(chunk).get("finishReason") or "")


def _text(chunk: dict[str, Any]) -> str:
    """The answer text in one streamed response; raises ModelBlocked on a refusal."""
    feedback = chunk.get("promptFeedback")
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        raise ModelBlocked(f"Gemini blocked the prompt ({feedback['blockReason']})")
    finish = _finish_reason(chunk)
    if finish in _BLOCKING:
        # Even after streamed text: the engine records the turn as failed.
        raise ModelBlocked(f"Gemini withheld the answer ({finish})")
    content = _candidate(chunk).get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return ""
    # Thought summaries are the model's scratchpad, not the reply.
    return "".join(
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    )


async def _close(responses: AsyncIterator[Any] | None) -> None:
    # Closing the SDK's generator releases the HTTP connection now rather than at GC.
    aclose = getattr(responses, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # the stream already failed; its error is the one that matters
            log.debug("closing the Gemini stream failed", exc_info=True)
