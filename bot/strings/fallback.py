"""Strings of the model fallback chain: the one line saying another backend answered."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {
    # Added under an answer that came from a fallback; `failed` lists the backends that
    # were down ("gemini" or "gemini, openai"), so the wording avoids singular/plural.
    "fallback_answered": {
        "en": "(answered by {backend}: no answer from {failed} right now)",
        "es": "(respondió {backend}: ahora no hay respuesta de {failed})",
    },
    # The last line of /model when TERTULIA_FALLBACK is set.
    "fallback_chain": {
        "en": "If it is down: {chain}",
        "es": "Si no responde: {chain}",
    },
}
