"""What the engine takes from a message before the model sees it: refusals and images."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import media_name, t
from bot.types import Image, IncomingMessage, MediaKind, RemoteImage


def refused(msg: IncomingMessage, text: str, max_chars: int, sees_images: bool) -> bool:
    """Input the model cannot take: media it does not read, or too long."""
    too_long = len(text) > max_chars
    blind = bool(msg.images) and not sees_images
    return bool(msg.unsupported) or too_long or blind


def rejection(
    msg: IncomingMessage, text: str, lang: str, max_chars: int, sees_images: bool, model: str
) -> str:
    """Why refused() refused it, in the person's language."""
    if msg.unsupported is MediaKind.PHOTO and sees_images:
        return t("image_unreadable", lang)  # the adapter could not hand it over
    if msg.unsupported:
        images = t("and_images", lang) if sees_images else ""
        return t("unsupported", lang, kind=media_name(msg.unsupported, lang), images=images)
    if len(text) > max_chars:
        return t("too_long", lang, length=len(text), limit=max_chars)
    return t("no_images", lang, model=model)


async def fetch_images(sources: Sequence[Image | RemoteImage]) -> tuple[Image, ...] | None:
    """The message's images, downloaded now if still on the platform; None if one is lost."""
    images: list[Image] = []
    for source in sources:
        image = source if isinstance(source, Image) else await source.fetch()
        if image is None:
            return None
        images.append(image)
    return tuple(images)
