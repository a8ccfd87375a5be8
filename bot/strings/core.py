"""The first strings: chat, commands, memory, feedback, access and media names."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hi {name}! I'm tertulia, an AI assistant that remembers our conversation. "
        "Write to me and I'll answer; I can also switch persona or language.\n\n{help}",
        "es": "¡Hola {name}! Soy tertulia, un asistente de IA que recuerda nuestra conversación. "
        "Escríbeme y te respondo; también puedo cambiar de personaje o de idioma.\n\n{help}",
    },
    "help_header": {"en": "Commands:", "es": "Comandos:"},
    "new_done": {
        "en": "Started a fresh conversation. The previous one is kept: I may still recall "
        "what you told me there (/forget erases it).",
        "es": "Empezamos una conversación nueva. La anterior se guarda: puede que aún recuerde "
        "lo que me contaste allí (/forget lo borra).",
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
        "en": "This erases everything I have stored about you: every conversation, every "
        "fact I remember, your linked accounts, persona and language. It cannot be undone. "
        "To go ahead, send /forget confirm. To forget one fact only, send /forget and its "
        "number from /memory.",
        "es": "Esto borra todo lo que tengo guardado sobre ti: todas las conversaciones, todos "
        "los datos que recuerdo, tus cuentas vinculadas, tu personaje y tu idioma. No se puede "
        "deshacer. Para continuar, envía /forget confirm. Para olvidar un solo dato, envía "
        "/forget y su número de /memory.",
    },
    "forget_done": {
        "en": "Done: I erased {count} stored messages and your settings.",
        "es": "Hecho: borré {count} mensajes guardados y tus ajustes.",
    },
    "forget_fact_done": {
        "en": "Done: I forgot fact #{id}.",
        "es": "Hecho: olvidé el dato #{id}.",
    },
    "forget_fact_unknown": {
        "en": "You have no fact #{id}. /memory lists yours with their numbers.",
        "es": "No tienes ningún dato #{id}. /memory lista los tuyos con su número.",
    },
    "private_only": {
        "en": "/{name} shows your own data: send it to me in a private chat.",
        "es": "/{name} muestra tus propios datos: envíamelo en un chat privado.",
    },
    "remember_usage": {
        "en": "Tell me what to remember, e.g. /remember I'm allergic to nuts.",
        "es": "Dime qué recordar, p. ej. /remember Soy alérgico a los frutos secos.",
    },
    "remember_too_long": {
        "en": "That is too long to keep as one fact: at most {limit} characters.",
        "es": "Es demasiado largo para guardarlo como un dato: como mucho {limit} caracteres.",
    },
    "remember_known": {
        "en": "I already remember that.",
        "es": "Eso ya lo recuerdo.",
    },
    "remember_done": {
        "en": "I'll remember that (fact #{id}). /memory shows everything I remember.",
        "es": "Lo recordaré (dato #{id}). /memory muestra todo lo que recuerdo.",
    },
    "memory_header": {
        "en": "I keep {conversations} conversations and {messages} messages of yours.",
        "es": "Guardo {conversations} conversaciones y {messages} mensajes tuyos.",
    },
    "memory_linked": {
        "en": "Linked with {count} account(s) on other platforms (/unlink to separate).",
        "es": "Vinculado con {count} cuenta(s) de otras plataformas (/unlink para separar).",
    },
    "memory_facts": {
        "en": "What I remember about you:",
        "es": "Lo que recuerdo de ti:",
    },
    "memory_told": {"en": " · you told me", "es": " · me lo dijiste"},
    "memory_how_to_forget": {
        "en": "/forget <number> forgets one; /export gives you everything as a file.",
        "es": "/forget <número> olvida uno; /export te da todo en un archivo.",
    },
    "memory_no_facts": {
        "en": "I remember no facts about you yet. Tell me one with /remember.",
        "es": "Aún no recuerdo ningún dato tuyo. Dime uno con /remember.",
    },
    "export_done": {
        "en": "Everything I keep about you: {conversations} conversations, {messages} "
        "messages and {facts} facts, in the attached file.",
        "es": "Todo lo que guardo sobre ti: {conversations} conversaciones, {messages} "
        "mensajes y {facts} datos, en el archivo adjunto.",
    },
    "link_code": {
        "en": "Your code is {code}. On the other platform, send me /link {plain} within "
        "{minutes} minutes. It works once; don't share it.",
        "es": "Tu código es {code}. En la otra plataforma, envíame /link {plain} antes de "
        "{minutes} minutos. Sirve una sola vez; no lo compartas.",
    },
    "link_linked": {
        "en": "Linked: your memory, facts, persona and language now follow you on both "
        "platforms. /unlink separates them again.",
        "es": "Vinculado: tu memoria, tus datos, tu personaje y tu idioma te acompañan ahora "
        "en las dos plataformas. /unlink las separa de nuevo.",
    },
    "link_invalid": {
        "en": "That code is not valid: it may have expired or been used. Send /link on the "
        "other platform for a new one.",
        "es": "Ese código no es válido: puede haber caducado o estar usado. Envía /link en la "
        "otra plataforma para obtener uno nuevo.",
    },
    "link_own": {
        "en": "That code is from this same account (or one already linked): send it from "
        "your account on the other platform.",
        "es": "Ese código es de esta misma cuenta (o de una ya vinculada): envíalo desde tu "
        "cuenta de la otra plataforma.",
    },
    "link_burnt": {
        "en": "Everyone here saw that code, so it no longer works. Ask for a new one with "
        "/link in a private chat with me, and send it in a private chat too.",
        "es": "Todos aquí han visto ese código, así que ya no sirve. Pide uno nuevo con /link "
        "en un chat privado conmigo, y envíalo también en privado.",
    },
    "link_too_many": {
        "en": "Too many attempts. Wait ten minutes and try again.",
        "es": "Demasiados intentos. Espera diez minutos y vuelve a probar.",
    },
    "unlink_done": {
        "en": "Separated: this account keeps what it wrote, the others keep theirs.",
        "es": "Separada: esta cuenta conserva lo que escribió y las demás lo suyo.",
    },
    "unlink_none": {
        "en": "This account is not linked with any other.",
        "es": "Esta cuenta no está vinculada con ninguna otra.",
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
        "en": "tertulia · {backend}: {model} · /help for commands; /good, /bad or /retry "
        "rate or redo my last answer; Ctrl-D to quit",
        "es": "tertulia · {backend}: {model} · /help para ver los comandos; /good, /bad o "
        "/retry valoran o rehacen mi última respuesta; Ctrl-D para salir",
    },
    "how_to_connect": {
        "en": "No platform configured: chatting here. Set TELEGRAM_BOT_TOKEN and/or "
        "DISCORD_BOT_TOKEN in .env to run the bot on Telegram or Discord.",
        "es": "No hay ninguna plataforma configurada: chateamos aquí. Pon TELEGRAM_BOT_TOKEN "
        "y/o DISCORD_BOT_TOKEN en .env para llevar el bot a Telegram o Discord.",
    },
    # The terminal chat's own notes (stderr): Ctrl-C, input that is not text.
    "console_stopped": {
        "en": "Answer stopped. Ctrl-C again to leave.",
        "es": "Respuesta detenida. Ctrl-C otra vez para salir.",
    },
    "console_line_not_text": {
        "en": "Line {line} of the input is not {encoding} text: skipped.",
        "es": "La línea {line} de la entrada no es texto {encoding}: la salto.",
    },
    "console_typed_not_text": {
        "en": "That line is not {encoding} text (check the terminal's encoding): skipped.",
        "es": "Esa línea no es texto {encoding} (revisa la codificación del terminal): la salto.",
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
    "export_written": {"en": "Your data is in {path}", "es": "Tus datos están en {path}"},
    # -- feedback, regenerate, consent ------------------------------------------------
    "rated_up": {"en": "Thanks for the 👍", "es": "Gracias por el 👍"},
    "rated_down": {
        "en": "Noted 👎. If you like, tell me why: /bad and a few words.",
        "es": "Anotado 👎. Si quieres, dime por qué: /bad y unas palabras.",
    },
    "rated_down_reason": {
        "en": "Noted 👎, with your reason. Thank you.",
        "es": "Anotado 👎, con tu motivo. Gracias.",
    },
    "rating_cleared": {"en": "Rating removed.", "es": "Valoración quitada."},
    "rate_not_yours": {
        "en": "Only the person who asked can rate or regenerate this answer.",
        "es": "Solo quien preguntó puede valorar o regenerar esta respuesta.",
    },
    "rate_gone": {
        "en": "That answer no longer exists: it was erased, or never finished.",
        "es": "Esa respuesta ya no existe: se borró o no llegó a terminarse.",
    },
    "rate_nothing": {
        "en": "There is no answer of mine here to rate yet.",
        "es": "Aún no hay aquí ninguna respuesta mía que valorar.",
    },
    "retry_not_latest": {
        "en": "Only my newest answer in this conversation can be regenerated: ask again instead.",
        "es": "Solo puedo regenerar mi última respuesta de esta conversación: vuelve a "
        "preguntármelo.",
    },
    "retry_nothing": {
        "en": "There is nothing of ours to regenerate here yet.",
        "es": "Aún no hay aquí nada nuestro que regenerar.",
    },
    "retry_image": {
        "en": "I can't regenerate an answer about an image (I don't keep images): send it again.",
        "es": "No puedo regenerar una respuesta sobre una imagen (no guardo las imágenes): "
        "envíala de nuevo.",
    },
    "reason_title": {"en": "What was wrong?", "es": "¿Qué falló?"},
    "reason_label": {"en": "Reason (optional)", "es": "Motivo (opcional)"},
    "consent_on": {
        "en": "Thank you: your conversations with me may now be used, cleaned of e-mails, "
        "phone numbers and keys, to improve the model. /consent off stops it at any time; "
        "/forget erases everything.",
        "es": "Gracias: tus conversaciones conmigo podrán usarse, limpias de correos, "
        "teléfonos y claves, para mejorar el modelo. /consent off lo detiene cuando "
        "quieras; /forget lo borra todo.",
    },
    "consent_off": {
        "en": "Your conversations will not be used to improve the model.",
        "es": "Tus conversaciones no se usarán para mejorar el modelo.",
    },
    "consent_status": {
        "en": "Using your conversations to improve the model: {state}. Change it with "
        "/consent on or /consent off (off unless you say so).",
        "es": "Uso de tus conversaciones para mejorar el modelo: {state}. Cámbialo con "
        "/consent on o /consent off (desactivado salvo que lo digas).",
    },
    "consent_state_on": {"en": "on", "es": "activado"},
    "consent_state_off": {"en": "off", "es": "desactivado"},
    # Access and limits (bot/access.py, bot/access_commands.py).
    "access_refused": {
        "en": "Sorry, I can't talk with you here.",
        "es": "Lo siento, aquí no puedo hablar contigo.",
    },
    "rate_limited": {
        "en": "You're writing faster than I can answer. Your message is kept; "
        "write again in {wait}.",
        "es": "Escribes más rápido de lo que puedo responder. Tu mensaje queda guardado; "
        "vuelve a escribir dentro de {wait}.",
    },
    "budget_spent": {
        "en": "You've used today's {limit} tokens. Your message is kept; you can continue "
        "at 00:00 UTC, in {wait}.",
        "es": "Has gastado los {limit} tokens de hoy. Tu mensaje queda guardado; podrás "
        "seguir a las 00:00 UTC, dentro de {wait}.",
    },
    "seconds": {"en": "{n} s", "es": "{n} s"},
    "minutes": {"en": "{n} min", "es": "{n} min"},
    "hours": {"en": "{h} h {m} min", "es": "{h} h {m} min"},
    "block_usage": {
        "en": "Say whom: /{name} <platform:id>, or /{name} <id> for someone on this platform.",
        "es": "Di a quién: /{name} <plataforma:id>, o /{name} <id> para alguien de esta "
        "plataforma.",
    },
    "block_done": {
        "en": "Blocked {who}: nothing they send reaches the model.",
        "es": "Bloqueado {who}: nada de lo que envíe llega al modelo.",
    },
    "block_already": {"en": "{who} was already blocked.", "es": "{who} ya estaba bloqueado."},
    "block_admin": {
        "en": "{who} is an admin: admins are never blocked while they are one.",
        "es": "{who} es administrador: a los administradores nunca se les bloquea mientras "
        "lo sean.",
    },
    "unblock_done": {"en": "Unblocked {who}.", "es": "Desbloqueado {who}."},
    "unblock_none": {"en": "{who} was not blocked.", "es": "{who} no estaba bloqueado."},
    "usage_today": {
        "en": "Today (UTC): {messages} answers, {tokens} tokens{budget}.",
        "es": "Hoy (UTC): {messages} respuestas, {tokens} tokens{budget}.",
    },
    "usage_budget": {"en": " of {limit} a day", "es": " de {limit} al día"},
    "usage_no_budget": {"en": " (no daily limit)", "es": " (sin límite diario)"},
    "usage_rate": {
        "en": "Rate limit: {rate} messages a minute, up to {burst} in a row.",
        "es": "Límite: {rate} mensajes por minuto, hasta {burst} seguidos.",
    },
    "usage_wait": {
        "en": "You can write again in {wait}.",
        "es": "Puedes volver a escribir dentro de {wait}.",
    },
    "usage_spent": {
        "en": "Today's tokens are used up.",
        "es": "Los tokens de hoy están agotados.",
    },
    "usage_exempt": {
        "en": "As an admin you have no limits.",
        "es": "Como administrador no tienes límites.",
    },
    "usage_reset": {
        "en": "The count starts again at 00:00 UTC, in {reset}.",
        "es": "La cuenta vuelve a empezar a las 00:00 UTC, dentro de {reset}.",
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
