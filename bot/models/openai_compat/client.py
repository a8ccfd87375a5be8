"""What OpenAI-compatible chat and embeddings share: the SDK client and its errors in our terms."""

from __future__ import annotations

import email.utils
import logging
import re
import time
import urllib.parse

import httpx2
import openai

from bot.models import CHECK_TIMEOUT, OptionRefused
from bot.ports import ModelError, ModelUnavailable

log = logging.getLogger(__name__)

# Local servers (Ollama, llama-server) ignore the key but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
# Statuses worth another try (as the SDK's own retries judge); still failing afterwards
# means "try later".
_TRANSIENT = {408, 409, 429}
# What a request can fail with: the SDK's errors, a transport error in the middle of a
# stream (the SDK passes those through), and a deadline.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    openai.APIError,
    httpx2.TransportError,
    TimeoutError,
)
_SECRET = re.compile(r"\b(sk|key|api)[-_][A-Za-z0-9_\-*]{6,}")


def make_client(
    api_key: str, base_url: str | None, *, timeout: float, retries: int
) -> openai.AsyncOpenAI:
    """One long-lived client; `retries` are the SDK's own (408/409/429/5xx, connections).

    Chat and embeddings pass 0 and retry with bot.models.retry, the policy every backend
    shares (one deadline per reply or batch).
    """
    # aiohttp as the transport (the SDK's documented DefaultAioHttpClient): its default
    # httpx2/httpcore/anyio stack cost ~3x the CPU per streamed answer under load.
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=retries,
        http_client=openai.DefaultAioHttpClient(),
    )


async def check(client: openai.AsyncOpenAI, model: str, *, key: str, seconds: float) -> None:
    """GET /models/{model} once, within `seconds`: a start-up check of the key and the model.

    A refused key (401/403) raises OptionRefused everywhere. A 404 does only where it
    surely means "no such model": api.openai.com, or a server answering OpenAI's
    `model_not_found`; Ollama, vLLM and llama-server may lack the route, or list their
    model under another name (llama-server answers whatever the name). Anything else
    (down, 5xx, 429) logs a warning: the server may come back.
    """
    quick = client.with_options(max_retries=0, timeout=min(seconds, CHECK_TIMEOUT))
    try:
        await quick.models.retrieve(model)
    except openai.APIStatusError as exc:
        status, reason = exc.status_code, _reason(exc, key)
        if status in (401, 403):
            message = f"openai: HTTP {status}: the server refused the key: {reason}"
            raise OptionRefused("api_key", message) from None
        official = urllib.parse.urlsplit(str(client.base_url)).hostname == "api.openai.com"
        if status == 404 and (official or exc.code == "model_not_found"):
            raise OptionRefused("model", f"openai: no model {model!r}: {reason}") from None
        log.warning(
            "openai: cannot check model %s at %s (HTTP %s: %s); starting anyway",
            model,
            client.base_url,
            status,
            reason,
        )
    except openai.APIError as exc:  # connection refused, timed out
        # The aiohttp transport calls a refused connection a timeout: the cause says which.
        cause = exc.__cause__ or exc
        log.warning(
            "openai: cannot reach %s to check the key and model (%s: %s); starting anyway",
            client.base_url,
            type(cause).__name__,
            " ".join(str(cause).split())[:200],
        )


def translate(
    exc: BaseException, *, what: str, model: str, key: str, base_url: object
) -> ModelError:
    """The SDK's error as ModelUnavailable (try later) or ModelError, without the key."""
    if isinstance(exc, TimeoutError):
        log.warning("%s: %s gave no answer in time", what, model)
        return ModelUnavailable(f"{what}: no answer in time")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        log.warning("%s: cannot reach %s (%s)", what, base_url, type(exc).__name__)
        return ModelUnavailable(f"{what}: cannot reach the server ({type(exc).__name__})")
    if not isinstance(exc, openai.APIError):
        return ModelError(f"{what}: {type(exc).__name__}")
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


def is_transient(exc: BaseException) -> bool:
    """Worth another try: a timeout, a connection that failed, 408/409/429 or any 5xx."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _TRANSIENT or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError | httpx2.TransportError | TimeoutError)


def retry_after(exc: BaseException) -> float | None:
    """The server's delay in seconds (retry-after-ms, or retry-after in seconds or as a
    date) when the error carries one."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def describe(exc: BaseException, key: str) -> str:
    """A short reason for logs: the status and the server's message, never the key."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_reason(exc, key)}"
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


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
