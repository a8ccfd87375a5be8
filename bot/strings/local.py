"""What the offline model says about itself: a small local model, and how to connect a better one."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {
    "local_notice": {
        "en": "Answers come from a small offline model ({model}) running on this computer: "
        "private and free, but it often gets facts wrong and its Spanish is weak.\n"
        "For better answers set TERTULIA_BACKEND=gemini and GEMINI_API_KEY, or "
        "OPENAI_BASE_URL and OPENAI_API_KEY for an OpenAI-compatible server (in .env).",
        "es": "Las respuestas vienen de un modelo pequeño sin conexión ({model}) que funciona "
        "en este ordenador: privado y gratuito, pero a menudo se equivoca en los datos y su "
        "español es flojo.\n"
        "Para mejores respuestas pon TERTULIA_BACKEND=gemini y GEMINI_API_KEY, u "
        "OPENAI_BASE_URL y OPENAI_API_KEY para un servidor compatible con OpenAI (en .env).",
    },
    "local_cut": {
        "en": "(Your message was longer than the small offline model reads at once, about "
        "{chars:,} characters or {limit:,} tokens: it read the beginning and the end and "
        "skipped the middle. Send it in parts for a full reading.)",
        "es": "(Tu mensaje era más largo de lo que el modelo pequeño sin conexión lee de una "
        "vez, unos {chars} caracteres o {limit} tokens: leyó el principio y el final y se "
        "saltó el medio. Envíalo por partes para que lo lea entero.)",
    },
}
