"""Every user-facing string, in English and Spanish, from one catalog."""

from __future__ import annotations

LANGS = ("en", "es")

CATALOG: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hi {name}! I'm tertulia, an AI assistant that remembers our conversation. "
        "Write to me and I'll answer; I can also switch persona or language.\n\n{help}",
        "es": "¡Hola {name}! Soy tertulia, un asistente de IA que recuerda nuestra conversación. "
        "Escríbeme y te respondo; también puedo cambiar de personaje o de idioma.\n\n{help}",
    },
    "help_header": {"en": "Commands:", "es": "Comandos:"},
    "new_done": {
        "en": "Started a fresh conversation. The previous one is kept, but I won't use it.",
        "es": "Empezamos una conversación nueva. La anterior se guarda, pero ya no la usaré.",
    },
    "persona_list": {
        "en": "Personas (current: {current}):\n{items}\nSwitch with /persona <name>.",
        "es": "Personajes (actual: {current}):\n{items}\nCambia con /persona <nombre>.",
    },
    "persona_set": {
        "en": "Persona set to {name}: {description}",
        "es": "Personaje cambiado a {name}: {description}",
    },
    "persona_unknown": {
        "en": "There is no persona called “{name}”. Available: {names}.",
        "es": "No hay ningún personaje llamado «{name}». Disponibles: {names}.",
    },
    "model_info": {
        "en": "Backend: {backend}\nModel: {model}\nReads images: {images}",
        "es": "Motor: {backend}\nModelo: {model}\nLee imágenes: {images}",
    },
    "yes": {"en": "yes", "es": "sí"},
    "no": {"en": "no", "es": "no"},
    "forget_confirm": {
        "en": "This erases everything I have stored about you: every conversation, your "
        "persona and language. It cannot be undone. To go ahead, send /forget confirm.",
        "es": "Esto borra todo lo que tengo guardado sobre ti: todas las conversaciones, tu "
        "personaje y tu idioma. No se puede deshacer. Para continuar, envía /forget confirm.",
    },
    "forget_done": {
        "en": "Done: I erased {count} stored messages and your settings.",
        "es": "Hecho: borré {count} mensajes guardados y tus ajustes.",
    },
    "lang_current": {
        "en": "Language: English. Switch with /lang es or /lang en.",
        "es": "Idioma: español. Cambia con /lang en o /lang es.",
    },
    "lang_set": {
        "en": "From now on I'll write in English.",
        "es": "A partir de ahora te escribiré en español.",
    },
    "lang_unknown": {
        "en": "I speak English (en) and Spanish (es): use /lang en or /lang es.",
        "es": "Hablo español (es) e inglés (en): usa /lang es o /lang en.",
    },
    "stats": {
        "en": "Users: {users}\nConversations: {conversations}\nMessages: {messages}",
        "es": "Usuarios: {users}\nConversaciones: {conversations}\nMensajes: {messages}",
    },
    "admin_only": {
        "en": "Only an administrator can use /{name}.",
        "es": "Solo un administrador puede usar /{name}.",
    },
    "unknown_command": {
        "en": "I don't know the command /{name}. Send /help to see what I can do.",
        "es": "No conozco el comando /{name}. Envía /help para ver lo que sé hacer.",
    },
    "too_long": {
        "en": "Your message is too long ({length} characters; the limit is {limit}). "
        "Please shorten it or send it in parts.",
        "es": "Tu mensaje es demasiado largo ({length} caracteres; el límite es {limit}). "
        "Acórtalo o envíalo por partes.",
    },
    "unsupported": {
        "en": "I can't read {kind} yet. I understand text{images}.",
        "es": "Todavía no puedo leer {kind}. Entiendo texto{images}.",
    },
    "and_images": {"en": " and images", "es": " e imágenes"},
    "image_unreadable": {
        "en": "I couldn't open that image. Please send it again.",
        "es": "No pude abrir esa imagen. Vuelve a enviarla, por favor.",
    },
    "no_images": {
        "en": "The current model ({model}) can't see images. Describe it in words, or ask "
        "the bot's admin for a model with vision.",
        "es": "El modelo actual ({model}) no puede ver imágenes. Descríbela con palabras o "
        "pide a quien administra el bot un modelo con visión.",
    },
    "model_blocked": {
        "en": "The model declined to answer that (its safety filters blocked it). "
        "Try asking in a different way.",
        "es": "El modelo se negó a responder (sus filtros de seguridad lo bloquearon). "
        "Prueba a preguntarlo de otra forma.",
    },
    "model_unavailable": {
        "en": "The model isn't answering right now. Your message is saved; please try "
        "again in a moment.",
        "es": "El modelo no responde ahora mismo. Tu mensaje está guardado; vuelve a "
        "intentarlo en un momento.",
    },
    "model_error": {
        "en": "Something went wrong while generating the answer ({reason}). Please try again.",
        "es": "Algo falló al generar la respuesta ({reason}). Vuelve a intentarlo.",
    },
    # Discord's /ask (elsewhere a plain message does the same).
    "ask_description": {
        "en": "Ask me anything, no mention needed",
        "es": "Pregúntame lo que sea, sin mencionarme",
    },
    "ask_prompt": {"en": "What you want to ask", "es": "Lo que quieres preguntar"},
    "console_banner": {
        "en": "tertulia · {backend}: {model} · /help for commands, Ctrl-D to quit",
        "es": "tertulia · {backend}: {model} · /help para ver los comandos, Ctrl-D para salir",
    },
    "how_to_connect": {
        "en": "No platform configured: chatting here. Set TELEGRAM_BOT_TOKEN and/or "
        "DISCORD_BOT_TOKEN in .env to run the bot on Telegram or Discord.",
        "es": "No hay ninguna plataforma configurada: chateamos aquí. Pon TELEGRAM_BOT_TOKEN "
        "y/o DISCORD_BOT_TOKEN en .env para llevar el bot a Telegram o Discord.",
    },
    "internal_error": {
        "en": "Something went wrong on my side and I couldn't answer. Please try again "
        "in a moment.",
        "es": "Algo falló por mi parte y no pude responder. Vuelve a intentarlo en un momento.",
    },
    "empty_reply": {
        "en": "The model returned an empty answer. Please try again.",
        "es": "El modelo devolvió una respuesta vacía. Vuelve a intentarlo.",
    },
}

# What the user sent that the bot can't read, as a noun phrase for "I can't read {kind}".
MEDIA: dict[str, dict[str, str]] = {
    "sticker": {"en": "stickers", "es": "stickers"},
    "voice": {"en": "voice messages", "es": "mensajes de voz"},
    "audio": {"en": "audio files", "es": "archivos de audio"},
    "video": {"en": "videos", "es": "vídeos"},
    "video_note": {"en": "video notes", "es": "videomensajes"},
    "animation": {"en": "GIFs", "es": "GIF"},
    "document": {"en": "documents", "es": "documentos"},
    "file": {"en": "files", "es": "archivos"},
    "location": {"en": "locations", "es": "ubicaciones"},
    "contact": {"en": "contacts", "es": "contactos"},
    "poll": {"en": "polls", "es": "encuestas"},
}
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
