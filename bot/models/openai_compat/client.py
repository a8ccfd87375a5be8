"""What OpenAI-compatible chat and embeddings share: the SDK client and its errors in our terms."""

from __future__ import annotations

import logging
import re

import openai

from bot.ports import ModelError, ModelUnavailable

log = logging.getLogger(__name__)

# Local servers (Ollama, llama-server) ignore the key but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
# Statuses the SDK retries itself; still failing afterwards means "try later".
_TRANSIENT = {408, 409, 429}
_SECRET = re.compile(r"\b(sk|key|api)[-_][A-Za-z0-9_\-*]{6,}")


def make_client(
    api_key: str, base_url: str | None, *, timeout: float, retries: int
) -> openai.AsyncOpenAI:
    """One long-lived client: the SDK retries 408/409/429/5xx and connection errors itself."""
    # The SDK's jittered backoff honours Retry-After, so we add no second retry loop.
    # aiohttp as the transport (the SDK's documented DefaultAioHttpClient): its default
    # httpx2/httpcore/anyio stack cost ~3x the CPU per streamed answer under load.
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=retries,
        http_client=openai.DefaultAioHttpClient(),
    )


def translate(
    exc: openai.APIError, *, what: str, model: str, key: str, base_url: object
) -> ModelError:
    """The SDK's error as ModelUnavailable (try later) or ModelError, without the key."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        log.warning("%s: cannot reach %s (%s)", what, base_url, type(exc).__name__)
        return ModelUnavailable(f"{what}: cannot reach the server ({type(exc).__name__})")
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    reason = _reason(exc, key)
    log.warning("%s: %s failed: HTTP %s: %s", what, model, status, reason)
    if status is not None and (status in _TRANSIENT or status >= 500):
        return ModelUnavailable(f"{what}: HTTP {status} after retries: {reason}")
    if status in (401, 403):
        return ModelError(f"{what}: HTTP {status}: the API key was rejected")
    if status is None:
        return ModelError(f"{what}: {reason}")
    return ModelError(f"{what}: HTTP {status}: {reason}")


def _reason(exc: openai.APIError, key: str) -> str:
    """A one-line reason from the provider's message, without the key, at most 200 chars."""
    body = exc.body
    message = exc.message
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    message = _SECRET.sub("***", message)
    if len(key) >= 8:  # replacing a 1-letter dummy key would mangle the text
        message = message.replace(key, "***")
    return " ".join(message.split())[:200]
