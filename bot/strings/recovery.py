"""Strings of crash recovery: the note to a person whose answer a restart cut off."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {
    # Under it, the ↻ button (Telegram, Discord) answers the same message again.
    "recovery_note_button": {
        "en": "⚠️ My answer to this was cut off by a restart. Press ↻ to ask again.",
        "es": "⚠️ Un reinicio cortó mi respuesta a esto. Pulsa ↻ para preguntar de nuevo.",
    },
    # The terminal has no buttons: /retry does the same.
    "recovery_note_command": {
        "en": "My answer to your last message was cut off by a restart. Type /retry to ask again.",
        "es": "Un reinicio cortó mi respuesta a tu último mensaje. Escribe /retry para"
        " preguntar de nuevo.",
    },
}
