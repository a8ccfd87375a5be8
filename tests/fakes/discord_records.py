"""The fake Discord's records and wire helpers: messages, interactions, failures, JSON bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "fake-discord-token"
MAX_CONTENT = 2000
EPHEMERAL = 64  # message flags
LOADING = 128


@dataclass(frozen=True, slots=True)
class FakeFile:
    """A file uploaded with a message (a `files[n]` part), as the client sent it."""

    filename: str
    data: bytes
    content_type: str


@dataclass(slots=True)
class FakeMessage:
    """A message stored by the fake; `history` holds every content it has had, in order."""

    id: int
    channel_id: int
    author_id: int
    content: str
    flags: int = 0
    reply_to: int | None = None
    interaction_id: int | None = None
    history: list[str] = field(default_factory=list)
    files: list[FakeFile] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)  # as served back
    components: list[dict[str, Any]] = field(default_factory=list)  # action rows, as sent

    def buttons(self) -> list[dict[str, Any]]:
        """The buttons in the message's action rows, in order."""
        return [c for row in self.components for c in row.get("components", []) if c["type"] == 2]


@dataclass(slots=True)
class FakeInteraction:
    """An interaction pushed by a test (a slash command, a button press, a form submitted)
    and what the bot answered to it.

    `kind` is Discord's interaction type: 2 command, 3 message component, 5 modal submit.
    `message_id` is the message a component was on; `modal` the form a type 9 answer opened.
    """

    id: int
    token: str
    channel_id: int
    kind: int = 2
    user_id: int = 0
    message_id: int | None = None
    callback_type: int | None = None
    ephemeral: bool = False
    original_id: int | None = None
    followups: list[int] = field(default_factory=list)
    callback: dict[str, Any] | None = None  # the callback's `data`, as the bot sent it
    modal: dict[str, Any] | None = None
    pushed: float = 0.0  # time.monotonic() when INTERACTION_CREATE went out
    answered: float | None = None  # ... and when the callback arrived

    @property
    def latency(self) -> float | None:
        """Seconds from the push to the callback (Discord allows 3)."""
        return None if self.answered is None else self.answered - self.pushed


DROP = 0  # a Failure status: the connection is cut instead of answered


@dataclass(slots=True)
class Failure:
    """A scripted refusal: requests matching it get this error instead of an answer.

    A 429 carries `retry_after` in its JSON body and its `Retry-After` header; discord.py
    waits and retries a 429 itself only when it also has a `Via` header (`via=True`).
    `global_` makes it the bot-wide limit instead of the route's. Status `DROP` cuts the
    connection instead of answering (a reset: nothing was done).
    """

    method: str
    pattern: str  # a regex on the path after /api/v10
    status: int
    code: int = 0
    message: str = ""
    times: int | None = 1  # None: until removed from `failures`
    retry_after: float = 1.0
    via: bool = False
    global_: bool = False
    when: Callable[[Any], bool] | None = None  # a predicate on the JSON body
    hits: int = 0

    def matches(self, method: str, path: str, body: Any) -> bool:
        return (
            method == self.method
            and re.fullmatch(self.pattern, path) is not None
            and (self.when is None or self.when(body))
        )

    def response(self) -> web.Response:
        if self.status != 429:
            return error_response(self.status, self.code, self.message or f"{self.status}: refused")
        body = {
            "message": self.message or "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.global_,
            "code": self.code,
        }
        headers = {
            "Retry-After": f"{self.retry_after:g}",
            "X-RateLimit-Scope": "global" if self.global_ else "user",
        }
        if self.global_:
            headers["X-RateLimit-Global"] = "true"
        if self.via:
            headers["Via"] = "1.1 google"
        return json_response(body, 429, headers)


@dataclass(slots=True)
class TypingRequest:
    """One POST /channels/{id}/typing; `completed` is False when the client hung up on it."""

    channel_id: int
    started: float
    finished: float | None = None
    completed: bool | None = None


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # discord.py compares the header exactly: aiohttp's json_response adds a charset.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def utf16_units(text: str) -> int:
    """Discord's length of a message: UTF-16 code units, as the bot counts them."""
    return len(text.encode("utf-16-le")) // 2


def error_response(status: int, code: int, message: str) -> web.Response:
    """Discord's JSON error body."""
    return json_response({"code": code, "message": message}, status)


async def read_body(request: web.Request) -> tuple[Any, list[FakeFile]]:
    """A request's JSON body and its uploads: JSON, or multipart `payload_json` + `files[n]`."""
    if not request.can_read_body:
        return None, []
    if request.content_type == "application/json":
        return await request.json(), []
    if request.content_type != "multipart/form-data":
        return None, []
    form = await request.post()
    payload = form.get("payload_json")
    body = json.loads(payload) if isinstance(payload, str) else {}
    parts: dict[int, FakeFile] = {}
    for name, value in form.items():
        if isinstance(value, web.FileField) and (index := re.fullmatch(r"files\[(\d+)\]", name)):
            parts[int(index[1])] = FakeFile(value.filename, value.file.read(), value.content_type)
    return body, [parts[i] for i in sorted(parts)]


def check_content(content: Any, *, files: bool = False) -> web.Response | None:
    """Discord's refusal of a message's content (empty, too long), if it refuses it."""
    if files and content in (None, ""):
        return None  # a file alone is a message
    if not isinstance(content, str) or not content.strip():
        return error_response(400, 50006, "Cannot send an empty message")
    if utf16_units(content) > MAX_CONTENT:
        return json_response(
            {
                "code": 50035,
                "message": "Invalid Form Body",
                "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}},
            },
            400,
        )
    return None


def misnamed(body: Any, files: list[FakeFile]) -> web.Response | None:
    """A refusal unless every `files[n]` part is named in the payload's `attachments`, in order."""
    named = [a.get("filename") for a in body.get("attachments") or [] if "id" in a]
    if files and [f.filename for f in files] != named:
        return error_response(400, 50035, "Invalid Form Body: attachments")
    return None
