"""Oversized photos and documents are refused by their declared size, before any download."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Chat, Document, Message, PhotoSize, User

from adapters.discord import client as discord_client
from adapters.discord import convert as discord_convert
from adapters.telegram import app as telegram_app
from bot.types import MediaKind, RemoteImage

TG_MAX = telegram_app.MAX_IMAGE_BYTES
DC_MAX = discord_convert.MAX_IMAGE_BYTES


class Downloads:
    """Stands in for every way an image could be fetched; counts the attempts."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return None


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Downloads:
    spy = Downloads()
    monkeypatch.setattr(telegram_app, "_download", spy)
    monkeypatch.setattr(discord_client, "_download", spy)
    monkeypatch.setattr(PhotoSize, "get_file", spy)
    monkeypatch.setattr(Document, "get_file", spy)
    return spy


def telegram_message(size: int, kind: str) -> Message:
    media: dict[str, Any] = {}
    if kind == "photo":
        media["photo"] = (
            PhotoSize("small", "s", 90, 90, file_size=1000),
            PhotoSize("big", "b", 4000, 4000, file_size=size),
        )
    else:
        media["document"] = Document("doc", "d", mime_type="image/png", file_size=size)
    return Message(
        1,
        dt.datetime.now(dt.UTC),
        Chat(5, Chat.PRIVATE),
        from_user=User(7, "Ana", is_bot=False),
        caption="mira",
        **media,
    )


async def fetch_all(images: tuple[Any, ...]) -> None:
    for image in images:
        if isinstance(image, RemoteImage):
            await image.fetch()


@pytest.mark.parametrize("kind", ["photo", "document"])
@pytest.mark.parametrize("size", [TG_MAX + 1, 2 * TG_MAX, 2**31])
async def test_telegram_refuses_an_oversized_image_unread(
    downloads: Downloads, kind: str, size: int
) -> None:
    got = telegram_app.incoming(telegram_message(size, kind), "mira", None, None)
    await fetch_all(got.images)
    assert got.images == ()
    assert got.unsupported is MediaKind.PHOTO  # the engine says it could not read it
    assert downloads.calls == 0


@pytest.mark.parametrize("kind", ["photo", "document"])
async def test_telegram_fetches_an_image_at_the_limit(downloads: Downloads, kind: str) -> None:
    got = telegram_app.incoming(telegram_message(TG_MAX, kind), "mira", None, None)
    await fetch_all(got.images)
    assert downloads.calls == 1  # the spy is really on the download path


def discord_message(content_type: str | None, size: int) -> Any:
    attachment = SimpleNamespace(id=9, content_type=content_type, size=size, read=Downloads())
    return SimpleNamespace(
        content="mira",
        stickers=[],
        attachments=[attachment],
        flags=SimpleNamespace(voice=False),
        author=SimpleNamespace(id=7, display_name="Ana"),
        channel=SimpleNamespace(id=5),
        guild=None,
        id=3,
    )


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg; charset=x", "IMAGE/WEBP"])
@pytest.mark.parametrize("size", [DC_MAX + 1, 2**40])
async def test_discord_refuses_an_oversized_image_unread(
    downloads: Downloads, content_type: str, size: int
) -> None:
    message = discord_message(content_type, size)
    got = discord_client.incoming(cast(Any, message), my_id=1)
    await fetch_all(got.images)
    assert got.images == ()
    assert got.unsupported is MediaKind.FILE
    assert downloads.calls == 0 and message.attachments[0].read.calls == 0


async def test_discord_fetches_an_image_at_the_limit(downloads: Downloads) -> None:
    got = discord_client.incoming(cast(Any, discord_message("image/png", DC_MAX)), my_id=1)
    await fetch_all(got.images)
    assert downloads.calls == 1


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    content_type=st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["image/png"])),
    size=st.integers(DC_MAX + 1, 2**63),
    voice=st.booleans(),
)
def test_discord_never_reads_any_attachment_over_the_limit(
    content_type: str | None, size: int, voice: bool
) -> None:
    assert discord_convert.media_kind(content_type, size, voice) is not None
