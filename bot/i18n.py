"""Every user-facing string, in English and Spanish, from one catalog."""

from __future__ import annotations

from bot.strings import CATALOG, MEDIA

LANGS = ("en", "es")
__all__ = ["CATALOG", "LANGS", "MEDIA", "media_name", "normalize_lang", "t"]

_OTHER_MEDIA = {"en": "this kind of message", "es": "este tipo de mensaje"}


def normalize_lang(hint: str | None) -> str | None:
    """Map a platform hint ("es-ES", "es_419", "EN") to a catalog language, if we have it."""
    if not hint:
        return None
    base = hint.replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGS else None


def t(key: str, lang: str, **kw: object) -> str:
    """The string `key` in `lang` (English if missing), formatted with `kw`."""
    entry = CATALOG[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**kw) if kw else text


def media_name(kind: str, lang: str) -> str:
    """The localised noun for a kind of media the bot can't read."""
    entry = MEDIA.get(kind, _OTHER_MEDIA)
    return entry.get(lang) or entry["en"]
