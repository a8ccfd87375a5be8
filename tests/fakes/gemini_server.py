"""A fake Gemini API server (aiohttp on 127.0.0.1) that answers the real google-genai client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.vectors import fake_embedding

log = logging.getLogger(__name__)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_SAFETY_REASONS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"})
# google-genai's embed_content calls only this one on the Gemini API (embedContent is
# Vertex's), whether given one text or many.
_EMBED_ACTION = "batchEmbedContents"
# What the real API allows in one batchEmbedContents call.
MAX_EMBED_BATCH = 100
# gemini-embedding-001's size when the request names no outputDimensionality.
DEFAULT_EMBED_DIMENSIONS = 3072
_KEY_INVALID = "API key not valid. Please pass a valid API key."


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer with these text chunks, the last one carrying `finish_reason`.

    `delay` is slept before each chunk (after the headers), `stall` after the chunks
    and before the end: both simulate a model that stops talking mid-answer.
    """

    chunks: tuple[str, ...] = ("Hello",)
    finish_reason: str = "STOP"
    thoughts: tuple[str, ...] = ()  # thought-summary parts streamed before the answer
    delay: float = 0.0
    stall: float = 0.0


@dataclass(frozen=True, slots=True)
class Failure:
    """Answer with an HTTP error and Google's JSON error body, optionally with RetryInfo."""

    status: int
    message: str = "scripted failure"
    retry_delay: str | None = None  # e.g. "0.05s", as Google's RetryInfo spells it


@dataclass(frozen=True, slots=True)
class BlockedPrompt:
    """Refuse the prompt: `promptFeedback.blockReason` and no candidates."""

    reason: str = "SAFETY"


@dataclass(frozen=True, slots=True)
class Hang:
    """Send nothing at all for `seconds` (before the status line), then a normal reply."""

    seconds: float
    then: Reply = field(default_factory=Reply)


Behaviour = Reply | Failure | BlockedPrompt | Hang


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the fake received."""

    version: str
    model: str
    action: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # loop time on arrival, so tests can check a retry waited at least so long


class FakeGeminiServer:
    """Serves `/{version}/models/{model}:{action}` for the actions the bot uses.

    Behaviours queued with `script()` answer one request each, in order; when the
    queue is empty `default` answers. Every request is kept in `requests`. Embedding
    requests take their turn in the queue too: a Failure or Hang applies to them, any
    other behaviour means "answer normally" with `fake_embedding` vectors.

    `GET /{version}/models/{model}` (models.get) answers the model's description, from
    `models` when given (others are Google's 404), else for any name; `lookup` makes it
    fail instead. Those calls go to `lookups`, not `requests`, and skip the queue. With
    `key` set, any other key is refused as Google does: 400 API_KEY_INVALID.
    """

    def __init__(
        self,
        default: Behaviour | None = None,
        *,
        key: str | None = None,
        models: tuple[str, ...] | None = None,
    ) -> None:
        self.default: Behaviour = default or Reply()
        self.key = key
        self.models = models
        self.lookup: Failure | None = None
        self.lookups: list[str] = []
        self.requests: list[Recorded] = []
        self._queue: list[Behaviour] = []
        # Set on stop so handlers sleeping in Hang/stall return at once: teardown stays fast.
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeGeminiServer is not started")
        return f"http://127.0.0.1:{self.port}"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, one per request."""
        self._queue.extend(behaviours)

    async def start(self) -> None:
        self._closing.clear()
        app = web.Application()
        app.router.add_post("/{version}/models/{model_action}", self._handle)
        app.router.add_get("/{version}/models/{model}", self._get_model)
        # Bind the socket ourselves so the OS picks a free port and we can read it back.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeGeminiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    def _refused(self, request: web.Request) -> web.Response | None:
        """Google's answer to a missing or wrong key, or None when the key is fine."""
        given = request.headers.get("x-goog-api-key")
        if self.key is None or given == self.key:
            return None
        if not given:
            message = "Method doesn't allow unregistered callers. Please use an API key."
            return _error(Failure(403, message))
        return _error(Failure(400, _KEY_INVALID), reason="API_KEY_INVALID")

    async def _get_model(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        self.lookups.append(model)
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self.lookup is not None:
            return _error(self.lookup)
        if self.models is not None and model not in self.models:
            version = request.match_info["version"]
            message = (
                f"models/{model} is not found for API version {version}, or is not supported"
                " for get. Call ListModels to see the list of available models and their"
                " supported methods."
            )
            return _error(Failure(404, message))
        return web.json_response(_model(model))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["model_action"].partition(":")
        body = await request.json()
        self.requests.append(
            Recorded(
                version=request.match_info["version"],
                model=model,
                action=action,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
                at=asyncio.get_running_loop().time(),
            )
        )
        refused = self._refused(request)
        if refused is not None:
            return refused
        if action == "countTokens":
            words = json.dumps(body.get("contents", [])).split()
            return web.json_response({"totalTokens": len(words)})
        if action == _EMBED_ACTION:
            return await self._embed(model, body)
        if action not in ("generateContent", "streamGenerateContent"):
            return _error(Failure(404, f"unknown action {action}"))
        behaviour = self._queue.pop(0) if self._queue else self.default
        if isinstance(behaviour, Hang):
            await self._sleep(behaviour.seconds)
            behaviour = behaviour.then
        if isinstance(behaviour, Failure):
            return _error(behaviour)
        if isinstance(behaviour, BlockedPrompt):
            events = [{"promptFeedback": {"blockReason": behaviour.reason}, **_meta()}]
            reply = Reply(chunks=())
        else:
            reply = behaviour
            events = _reply_events(reply)
        if action == "generateContent":
            return web.json_response(_merge(events))
        return await self._stream(request, events, reply)

    @property
    def embed_requests(self) -> list[Recorded]:
        """The embedding calls received, in order."""
        return [r for r in self.requests if r.action == _EMBED_ACTION]

    async def _embed(self, model: str, body: dict[str, Any]) -> web.Response:
        behaviour = self._queue.pop(0) if self._queue else self.default
        if isinstance(behaviour, Hang):
            await self._sleep(behaviour.seconds)
        if isinstance(behaviour, Failure):
            return _error(behaviour)
        requests = body.get("requests", [])
        if not requests or len(requests) > MAX_EMBED_BATCH:
            message = f"* BatchEmbedContentsRequest.requests: at most {MAX_EMBED_BATCH} requests"
            return _error(Failure(400, message))
        if any(r.get("model") != f"models/{model}" for r in requests):
            return _error(Failure(400, "the model of every request must match the URL's"))
        return web.json_response({"embeddings": [_embedding(r) for r in requests]})

    async def _stream(
        self, request: web.Request, events: list[dict[str, Any]], reply: Reply
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            for event in events:
                await self._sleep(reply.delay)
                await resp.write(f"data: {json.dumps(event)}\r\n\r\n".encode())
            await self._sleep(reply.stall)
            await resp.write_eof()
        except ConnectionResetError:
            # The client gave up (its timeout): nothing left to answer.
            log.debug("client went away mid-stream")
        return resp


def _meta() -> dict[str, Any]:
    return {"modelVersion": "fake-gemini", "responseId": "fake-response"}


def _reply_events(reply: Reply) -> list[dict[str, Any]]:
    """One SSE event per chunk; a blocked answer ends with an empty, flagged candidate."""
    events: list[dict[str, Any]] = []
    for thought in reply.thoughts:
        content = {"role": "model", "parts": [{"text": thought, "thought": True}]}
        events.append({"candidates": [{"content": content, "index": 0}], **_meta()})
    for text in reply.chunks:
        content = {"role": "model", "parts": [{"text": text}]}
        events.append({"candidates": [{"content": content, "index": 0}], **_meta()})
    if reply.finish_reason == "STOP" and reply.chunks:
        events[-1]["candidates"][0]["finishReason"] = "STOP"
    else:
        # SAFETY and friends arrive as a last chunk with no text, as the real API streams them.
        candidate: dict[str, Any] = {"finishReason": reply.finish_reason, "index": 0}
        if reply.finish_reason in _SAFETY_REASONS:
            candidate["safetyRatings"] = [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}
            ]
        events.append({"candidates": [candidate], **_meta()})
    usage = {"promptTokenCount": 3, "candidatesTokenCount": len(reply.chunks)}
    events[-1]["usageMetadata"] = {**usage, "totalTokenCount": 3 + len(reply.chunks)}
    return events


def _merge(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streaming answer: the stream's events folded into one response."""
    merged = dict(events[-1])
    text = "".join(
        p.get("text", "")
        for e in events
        for c in e.get("candidates", [])
        for p in c.get("content", {}).get("parts", [])
    )
    if merged.get("candidates"):
        candidate = dict(merged["candidates"][0])
        if text:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        merged["candidates"] = [candidate]
    return merged


def _embedding(request: dict[str, Any]) -> dict[str, Any]:
    """One EmbedContentRequest's answer: a whole content (all its parts) makes one vector."""
    parts = request.get("content", {}).get("parts", [])
    text = " ".join(p.get("text", "") for p in parts if isinstance(p, dict))
    dimensions = int(request.get("outputDimensionality") or DEFAULT_EMBED_DIMENSIONS)
    values = fake_embedding(text, dimensions)
    # Like gemini-embedding-001, only the full size comes back with unit length.
    scale = 1.0 if dimensions == DEFAULT_EMBED_DIMENSIONS else 0.8
    return {"values": [v * scale for v in values]}


def _model(name: str) -> dict[str, Any]:
    """models.get's answer, shaped like the real one for a chat or an embedding model."""
    embeds = "embedding" in name
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": "A fake model.",
        "inputTokenLimit": 2048 if embeds else 1_048_576,
        "outputTokenLimit": 1 if embeds else 65_536,
        "supportedGenerationMethods": (
            ["embedContent", "countTextTokens", "countTokens"]
            if embeds
            else ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
        ),
    }


def _error(failure: Failure, *, reason: str | None = None) -> web.Response:
    error: dict[str, Any] = {
        "code": failure.status,
        "message": failure.message,
        "status": _STATUS_NAMES.get(failure.status, "UNKNOWN"),
    }
    details: list[dict[str, Any]] = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": failure.message,
            }
        )
    if failure.retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": failure.retry_delay}
        )
    if details:
        error["details"] = details
    return web.json_response({"error": error}, status=failure.status)
