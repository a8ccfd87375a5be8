"""A fake OpenAI-compatible server (chat completions, embeddings) on 127.0.0.1 for tests and benches."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.vectors import fake_embedding

log = logging.getLogger(__name__)

Reply = str | Callable[[list[dict[str, Any]]], str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What api.openai.com allows in one embeddings request.
MAX_EMBEDDING_INPUTS = 2048


@dataclass(frozen=True, slots=True)
class ScriptedFailure:
    """An error the server answers with instead of a completion."""

    status: int
    message: str
    retry_after_ms: int | None
    retry_after: str | None = None  # the `retry-after` header: seconds, or an HTTP date


class FakeOpenAIServer:
    """Answers `/v1/chat/completions` (streamed or not), `/v1/embeddings` and `/v1/models`.

    `reply` is the assistant's text, or a function of the request's `messages`.
    Embeddings are `fake_embedding` vectors of `embedding_dimensions` floats.
    Failures queued with `fail_next()` are answered first, one per request of any kind.

    `GET /v1/models/{id}` answers as api.openai.com does: the model, or 404
    `model_not_found` for a name not in `models`. With `models` unset the server lists
    "fake-model" and answers to any name, as llama-server does. `retrieve=False` leaves
    the route out (404 with no JSON, as vLLM and llama-server answer); `lookup_status`
    makes it fail with that status. Those calls go to `lookups` and skip `fail_next`.
    With `key` set, any other bearer key gets OpenAI's 401 `invalid_api_key`.
    """

    def __init__(
        self,
        reply: Reply = "hello",
        chunk: int = 8,
        *,
        finish_reason: str = "stop",
        chunk_delay: float = 0.0,
        models: tuple[str, ...] | None = None,
        embedding_dimensions: int = 1536,
        key: str | None = None,
        retrieve: bool = True,
    ) -> None:
        self.reply = reply
        self.chunk = max(1, chunk)
        self.finish_reason = finish_reason  # e.g. "content_filter" to simulate a block
        self.chunk_delay = chunk_delay  # seconds between streamed chunks; 0 is instant
        self.models = models
        self.key = key
        self.retrieve = retrieve
        self.lookup_status: int | None = None
        # Seconds each of the next completions waits before answering at all, one per
        # request: [30.0] * 5 is a model that never answers five times over.
        self.hangs: list[float] = []
        self._closing = asyncio.Event()
        self.lookups: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.embedding_dimensions = embedding_dimensions
        self.embedding_requests: list[dict[str, Any]] = []
        self._failures: list[ScriptedFailure] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeOpenAIServer is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        if self.retrieve:
            app.router.add_get("/v1/models/{model}", self._model)
        # Bind the socket ourselves so the OS picks a free port and we can read it back.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._closing.clear()
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._closing.set()  # a hanging completion returns at once: teardown stays fast
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- scripting ---------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        message: str | None = None,
        retry_after_ms: int | None = 1,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next `times` requests (completions or embeddings) with an HTTP error.

        A tiny `retry-after-ms` is sent by default so retries stay instant.
        """
        text = message or f"scripted failure {status}"
        failure = ScriptedFailure(status, text, retry_after_ms, retry_after)
        self._failures.extend([failure] * times)

    @property
    def pending_failures(self) -> int:
        return len(self._failures)

    # -- handlers ----------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.key is None or given == self.key:
            return await handler(request)
        if not given:
            message = "You didn't provide an API key. You need to provide your API key in an"
            message += (
                " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            code = None
        else:
            # OpenAI echoes the key masked: its first 3 and last 4 characters.
            masked = f"{given[:3]}{'*' * max(0, len(given) - 7)}{given[-4:]}"
            message = f"Incorrect API key provided: {masked}. You can find your API key at"
            message += " https://platform.openai.com/account/api-keys."
            code = "invalid_api_key"
        body = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        return web.json_response({"error": body}, status=401)

    async def _models(self, request: web.Request) -> web.Response:
        data = [_model(m) for m in self.models or ("fake-model",)]
        return web.json_response({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        self.lookups.append(model)
        if self.lookup_status is not None:
            return self._error(ScriptedFailure(self.lookup_status, "scripted failure", None))
        if self.models is not None and model not in self.models:
            error = {
                "message": f"The model '{model}' does not exist",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            }
            return web.json_response({"error": error}, status=404)
        return web.json_response(_model(model))

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.embedding_requests.append(body)
        if self._failures:
            return self._error(self._failures.pop(0))
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        # The real API's checks, so a client that breaks them fails here too.
        if not isinstance(inputs, list) or not all(isinstance(t, str) and t for t in inputs):
            return self._error(ScriptedFailure(400, "'$.input' is invalid.", None))
        if not inputs or len(inputs) > MAX_EMBEDDING_INPUTS:
            message = f"'$.input' must have at most {MAX_EMBEDDING_INPUTS} items"
            return self._error(ScriptedFailure(400, message, None))
        model = str(body.get("model", "fake-model"))
        dimensions = body.get("dimensions")
        if dimensions is not None and not model.startswith("text-embedding-3"):
            message = "This model does not support specifying dimensions."
            return self._error(ScriptedFailure(400, message, None))
        size = int(dimensions or self.embedding_dimensions)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _encoded(vector, as_base64)}
            for i, vector in enumerate(fake_embedding(t, size) for t in inputs)
        ]
        tokens = sum(len(t.split()) for t in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.hangs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hangs.pop(0))
        if self._failures:
            return self._error(self._failures.pop(0))
        messages = body.get("messages", [])
        text = self.reply(messages) if callable(self.reply) else self.reply
        model = body.get("model", "fake-model")
        if body.get("stream"):
            return await self._stream(request, model, text)
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": self.finish_reason,
                    }
                ],
                "usage": _usage(messages, text),
            }
        )

    async def _stream(self, request: web.Request, model: str, text: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            await resp.write(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        for i in range(0, len(text), self.chunk):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            await send({"content": text[i : i + self.chunk]})
        await send({}, self.finish_reason)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    @staticmethod
    def _error(failure: ScriptedFailure) -> web.Response:
        kind = {
            400: "invalid_request_error",
            401: "invalid_request_error",
            429: "rate_limit_exceeded",
        }.get(failure.status, "server_error")
        headers = {}
        if failure.retry_after_ms is not None:
            headers["retry-after-ms"] = str(failure.retry_after_ms)
        if failure.retry_after is not None:
            headers["retry-after"] = failure.retry_after
        body = {"error": {"message": failure.message, "type": kind, "param": None, "code": None}}
        return web.json_response(body, status=failure.status, headers=headers)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "fake"}


def _encoded(vector: list[float], as_base64: bool) -> list[float] | str:
    """Floats as JSON, or (the SDK's default) base64 of little-endian float32s."""
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _usage(messages: list[dict[str, Any]], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
    completion = len(text) // 4 + 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _serve_forever(reply: str, chunk: int) -> None:
    async with FakeOpenAIServer(reply, chunk) as srv:
        print(srv.base_url, flush=True)  # the parent process reads the URL from stdout
        await asyncio.Event().wait()


if __name__ == "__main__":
    # `python -m tests.fakes.openai_server [reply]`: an instant model for manual runs and benches.
    import sys

    asyncio.run(_serve_forever(sys.argv[1] if len(sys.argv) > 1 else "hello", 8))
