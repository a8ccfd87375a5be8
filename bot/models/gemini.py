"""The Gemini backend: streams replies from Google's Gemini API with google-genai."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import random
import re
import urllib.parse
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import aiohttp
from google import genai
from google.genai import errors, types
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from bot.models import rough_tokens
from bot.ports import ModelBlocked, ModelError, ModelUnavailable
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
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

# Finish reasons that mean the provider withheld the answer.
_BLOCKING = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"})
# 408 and 429 are worth another try; so is every 5xx.
_RETRYABLE_4XX = frozenset({408, 429})
# A user is waiting: never sleep longer than this between attempts. A server asking for
# more (a spent daily quota) gets no retry at all: an early retry only burns quota.
MAX_RETRY_DELAY = 30.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")


def _transport_errors() -> tuple[type[BaseException], ...]:
    # Requests go through our aiohttp session; the SDK's httpx fallback fails the same way.
    found: list[type[BaseException]] = [
        TimeoutError,
        ConnectionError,
        aiohttp.ClientConnectionError,
        aiohttp.ClientPayloadError,
    ]
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
            found.append(module.TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()
# What a request can fail with that we turn into ModelError/ModelUnavailable.
_REQUEST_ERRORS: tuple[type[BaseException], ...] = (errors.APIError, *_TRANSPORT_ERRORS)


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, ALL_PROXY, NO_PROXY), if any."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy is None or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    # aiohttp speaks only to HTTP proxies (ALL_PROXY is often socks5://): skip others,
    # as aiohttp's own trust_env did.
    return proxy if urllib.parse.urlsplit(proxy).scheme in ("http", "https") else None


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
    ) -> None:
        self.model = model
        self._model_path = (
            model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        )
        self.context_tokens = context_window(model)
        self._api_key = api_key
        self._timeout = timeout
        self._retries = max(0, retries)
        self._backoff = backoff
        self.max_output_tokens = max_output_tokens
        self._backoff_wait = wait_exponential_jitter(
            initial=backoff, max=MAX_RETRY_DELAY, jitter=backoff
        )
        self._closed = False
        self._base_url = base_url
        self._total_timeout = total_timeout
        self._session: aiohttp.ClientSession | None = None
        self._client: genai.Client | None = None  # made in the event loop, on first use

    def _api(self) -> Any:
        """The SDK's API client, which sends every request (auth, base URL, errors)."""
        if self._client is None:
            # google-genai's own aiohttp session trusts the environment, and aiohttp then
            # looks for ~/.netrc in a worker thread on every request; this one reads the
            # proxy variables once.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                trust_env=False,
                proxy=env_proxy(self._base_url or DEFAULT_BASE_URL),
            )
            # aiohttp applies HttpOptions.timeout to the whole response, body included, so
            # it bounds a full answer; `timeout` (first chunk, gaps between chunks) is ours.
            # retry_options with one attempt stops the SDK's hidden retries: we own them.
            self._client = genai.Client(
                api_key=self._api_key,
                http_options=types.HttpOptions(
                    base_url=self._base_url,
                    timeout=int(max(self._timeout, self._total_timeout) * 1000),
                    retry_options=types.HttpRetryOptions(attempts=1),
                    aiohttp_client=self._session,
                ),
            )
        return self._client.aio._api_client

    def estimate_tokens(self, text: str) -> int:
        """A cheap estimate: counting exactly would cost a request per message."""
        return rough_tokens(text)

    async def open(self) -> None:
        """Nothing to load: the client connects on the first request."""

    async def close(self) -> None:
        """Close the client's HTTP sessions; call once at shutdown."""
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            await self._client.aio.aclose()
            self._client.close()
        if self._session is not None:
            await self._session.close()

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
        responses: AsyncIterator[Any] | None = None
        try:
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self._retries + 1) | _ServerWantsTooLong(),
                    wait=self._wait,
                    retry=retry_if_exception(_is_transient),
                    before_sleep=self._log_retry,
                    reraise=True,
                ):
                    with attempt:
                        responses, first = await self._open(dict(request))
            except _REQUEST_ERRORS as exc:
                raise self._failure(exc) from exc
            assert responses is not None  # the successful attempt set it
            yield first
            # From here on text has reached the user: a failure ends the turn, never a retry.
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        response = await anext(responses)
                except StopAsyncIteration:
                    break
                except _REQUEST_ERRORS as exc:
                    raise self._failure(exc) from exc
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

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        server = _retry_delay(exc)
        if server is None:
            return float(self._backoff_wait(state))
        # Honour the server's delay, plus up to 10% so waiting users do not stampede.
        return min(server * random.uniform(1.0, 1.1), MAX_RETRY_DELAY)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Gemini %s: retrying in %.2fs (attempt %d of %d)",
            self._reason(exc),
            delay,
            state.attempt_number + 1,
            self._retries + 1,
        )

    def _reason(self, exc: BaseException | None) -> str:
        # Servers have been known to echo the request's key back in an error message.
        reason = _describe(exc)
        return reason.replace(self._api_key, "***") if self._api_key else reason

    def _failure(self, exc: BaseException) -> ModelError:
        if _is_transient(exc):
            return ModelUnavailable(f"Gemini unavailable: {self._reason(exc)}")
        return ModelError(f"Gemini refused the request: {self._reason(exc)}")


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


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, errors.APIError):
        code = exc.code or 0
        return code in _RETRYABLE_4XX or code >= 500
    return isinstance(exc, _TRANSPORT_ERRORS)


class _ServerWantsTooLong(stop_base):
    """Stop when the server's RetryInfo asks for a longer wait than a user will sit through."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        delay = _retry_delay(exc)
        return delay is not None and delay > MAX_RETRY_DELAY


def _retry_delay(exc: BaseException | None) -> float | None:
    """The server's RetryInfo `retryDelay` in seconds, when the error carries one."""
    if not isinstance(exc, errors.APIError) or not isinstance(exc.details, dict):
        return None
    body = exc.details.get("error", exc.details)
    details = body.get("details") if isinstance(body, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _describe(exc: BaseException | None) -> str:
    """A short reason for logs and errors: codes and the server's message, never a body."""
    if isinstance(exc, errors.APIError):
        message = (exc.message or "").strip()
        return f"{exc.code} {exc.status or ''}: {message[:200]}".strip(": ")
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__ if exc is not None else "unknown error"


async def _close(responses: AsyncIterator[Any] | None) -> None:
    # Closing the SDK's generator releases the HTTP connection now rather than at GC.
    aclose = getattr(responses, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # the stream already failed; its error is the one that matters
            log.debug("closing the Gemini stream failed", exc_info=True)
