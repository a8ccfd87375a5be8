"""The fake Bot API's wire format: form and multipart bodies, error answers, server-made entities."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from tests.fakes.telegram_methods import ApiError, Upload, utf16_len

# Form fields PTB sends as plain strings; every other field is JSON inside the form.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "parse_mode",
        "language_code",
        "action",
        "file_id",
        "description",
        "short_description",
        "name",
    }
)


def auto_entities(text: str) -> list[dict[str, Any]]:
    # Telegram's server marks commands at the start and @mentions anywhere (UTF-16 offsets).
    ents = []
    for m in re.finditer(r"(?<![\w@])(/[A-Za-z0-9_]+(?:@\w+)?|@\w{3,})", text):
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        if kind == "bot_command" and m.start() != 0:
            continue
        ents.append(
            {"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        )
    return ents


async def read_params(request: web.Request) -> dict[str, Any]:
    """A call's parameters: JSON, or form fields (multipart with uploads, each as an Upload)."""
    if request.content_type == "application/json":
        body = await request.read()
        return json.loads(body) if body else {}
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            out[key] = Upload(value.filename, value.file.read(), value.content_type)
        elif not isinstance(value, str):
            continue
        elif key in _STRING_FIELDS:
            out[key] = value
        else:
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
    return out


def outage_page(code: int, description: str) -> str:
    title = f"{code} {description}"
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"


def error_response(exc: ApiError) -> web.Response:
    if exc.page is not None:
        return web.Response(text=exc.page, status=exc.code, content_type="text/html")
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.retry_after is not None:
        body["parameters"] = {"retry_after": exc.retry_after}
    if exc.migrate_to is not None:
        body["parameters"] = {"migrate_to_chat_id": exc.migrate_to}
    return web.json_response(body, status=exc.code)
