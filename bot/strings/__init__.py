"""The catalog of user-facing strings, one module per area, merged into one mapping.

Adding an area is one module with a `CATALOG` dict plus one line in `_AREAS`; a key
defined twice is a mistake caught at import.
"""

from __future__ import annotations

from bot.strings import core
from bot.strings import fallback as fallback_strings
from bot.strings import local as local_strings
from bot.strings import recovery as recovery_strings

_AREAS = (
    core,
    local_strings,
    fallback_strings,
    recovery_strings,
)


def _merge() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for area in _AREAS:
        for key, entry in area.CATALOG.items():
            if key in merged:
                raise KeyError(f"string {key!r} defined twice (bot/strings/{area.__name__})")
            merged[key] = entry
    return merged


CATALOG = _merge()
MEDIA = core.MEDIA
