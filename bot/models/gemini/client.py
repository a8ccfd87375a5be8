"""What Gemini's chat and embeddings share: the SDK client, the proxy, and what errors mean."""

from __future__ import annotations

import importlib
import re
import urllib.parse
import urllib.request
from collections.abc import Callable

import aiohttp
from google import genai
from google.genai import errors, types

from bot.ports import ModelError, ModelUnavailable

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
# 408 and 429 are worth another try; so is every 5xx.
_RETRYABLE_4XX = frozenset({408, 429})
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


TRANSPORT_ERRORS = _transport_errors()
# What a request can fail with that we turn into ModelError/ModelUnavailable.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (errors.APIError, *TRANSPORT_ERRORS)


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


class Client:
    """One google-genai client and its aiohttp session, made in the event loop on first use."""

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._client: genai.Client | None = None
        self._closed = False

    def sdk(self) -> genai.Client:
        if self._client is None:
            # google-genai's own aiohttp session trusts the environment, and aiohttp then
            # looks for ~/.netrc in a worker thread on every request; this one reads the
            # proxy variables once.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                trust_env=False,
                proxy=env_proxy(self._base_url or DEFAULT_BASE_URL),
            )
            # retry_options with one attempt stops the SDK's hidden retries: we own them.
            self._client = genai.Client(
                api_key=self._api_key,
                http_options=types.HttpOptions(
                    base_url=self._base_url,
                    timeout=int(self._timeout * 1000),
                    retry_options=types.HttpRetryOptions(attempts=1),
                    aiohttp_client=self._session,
                ),
            )
        return self._client

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            await self._client.aio.aclose()
            self._client.close()
        if self._session is not None:
            await self._session.close()


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, errors.APIError):
        code = exc.code or 0
        return code in _RETRYABLE_4XX or code >= 500
    return isinstance(exc, TRANSPORT_ERRORS)


def retry_delay(exc: BaseException | None) -> float | None:
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


def describe(exc: BaseException | None) -> str:
    """A short reason for logs and errors: codes and the server's message, never a body."""
    if isinstance(exc, errors.APIError):
        message = (exc.message or "").strip()
        return f"{exc.code} {exc.status or ''}: {message[:200]}".strip(": ")
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__ if exc is not None else "unknown error"


def redactor(api_key: str) -> Callable[[str], str]:
    """Hide the key: servers have been known to echo the request's key in an error message."""
    return lambda text: text.replace(api_key, "***") if api_key else text


def _reasons(exc: errors.APIError) -> set[str]:
    """The ErrorInfo reasons in Google's error body (API_KEY_INVALID, SERVICE_DISABLED, ...)."""
    body = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else None
    details = body.get("details") if isinstance(body, dict) else None
    return {
        str(d.get("reason"))
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("ErrorInfo")
    }


def refused_option(exc: BaseException) -> str | None:
    """The setting a start-up check's error blames ("api_key", "model"), or None.

    A bad key is 400 API_KEY_INVALID (or 401/403); a model Google does not know is its
    own 404 NOT_FOUND body, while a bare 404 from a gateway that only forwards
    generateContent says nothing about the model. Anything else may pass: None.
    """
    if not isinstance(exc, errors.APIError):
        return None
    if exc.code in (401, 403) or "API_KEY_INVALID" in _reasons(exc):
        return "api_key"
    if exc.code == 404 and exc.status == "NOT_FOUND":
        return "model"
    return None


def failure(exc: BaseException, what: str, redact: Callable[[str], str]) -> ModelError:
    reason = redact(describe(exc))
    if is_transient(exc):
        return ModelUnavailable(f"{what} unavailable: {reason}")
    return ModelError(f"{what} refused the request: {reason}")
