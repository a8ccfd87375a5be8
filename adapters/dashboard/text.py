"""Every string the dashboard shows, in English and Spanish, from one catalog (as bot/i18n.py)."""

from __future__ import annotations

LANGS = ("en", "es")

CATALOG: dict[str, dict[str, str]] = {
    # The shell: sign-in, navigation, sidebar
    "title": {"en": "tertulia dashboard", "es": "panel de tertulia"},
    "password": {"en": "Password", "es": "Contraseña"},
    "sign_in": {"en": "Sign in", "es": "Entrar"},
    "wrong_password": {"en": "Wrong password.", "es": "Contraseña incorrecta."},
    "password_needed": {
        "en": "This dashboard listens beyond this machine and TERTULIA_DASHBOARD_PASSWORD is "
        "no longer set: set it and restart.",
        "es": "Este panel escucha más allá de esta máquina y TERTULIA_DASHBOARD_PASSWORD ya no "
        "está definida: defínela y reinicia.",
    },
    "language": {"en": "Language", "es": "Idioma"},
    "refresh": {"en": "Refresh figures", "es": "Actualizar cifras"},
    "no_database": {
        "en": "Nothing to show yet: {reason}.",
        "es": "Aún no hay nada que mostrar: {reason}.",
    },
    # Overview
    "overview": {"en": "Overview", "es": "Resumen"},
    "window": {"en": "Period", "es": "Periodo"},
    "all_time": {"en": "All", "es": "Todo"},
    "last_days": {"en": "{days} days", "es": "{days} días"},
    "people": {"en": "People", "es": "Personas"},
    "conversations": {"en": "Conversations", "es": "Conversaciones"},
    "messages": {"en": "Messages", "es": "Mensajes"},
    "tokens": {"en": "Tokens", "es": "Tokens"},
    "day": {"en": "Day (UTC)", "es": "Día (UTC)"},
    "platform": {"en": "Platform", "es": "Plataforma"},
    "messages_per_day": {"en": "Messages per day", "es": "Mensajes por día"},
    "tokens_per_day": {"en": "Tokens per day", "es": "Tokens por día"},
    "latency": {"en": "Reply latency", "es": "Latencia de respuesta"},
    "latency_p50": {"en": "Reply latency (p50)", "es": "Latencia (p50)"},
    "latency_caption": {
        "en": "Whole reply, this period: {figures}. First words (p50): {first}.",
        "es": "Respuesta completa, este periodo: {figures}. Primeras palabras (p50): {first}.",
    },
    "percentile": {"en": "Percentile", "es": "Percentil"},
    "ratings": {"en": "Ratings: 👍 share", "es": "Valoraciones: % de 👍"},
    "up_share": {"en": "👍 share (%)", "es": "% de 👍"},
    "no_ratings": {"en": "No ratings in this period.", "es": "Sin valoraciones en este periodo."},
    "errors": {"en": "Errors by kind", "es": "Errores por tipo"},
    "kind": {"en": "Kind", "es": "Tipo"},
    "count": {"en": "Count", "es": "Cantidad"},
    "no_errors": {"en": "No errors in this period.", "es": "Sin errores en este periodo."},
    "no_data": {"en": "No messages in this period.", "es": "No hay mensajes en este periodo."},
    # People
    "search": {"en": "Search", "es": "Buscar"},
    "search_hint": {
        "en": "a name, an account id, a platform, or words of a message",
        "es": "un nombre, un id de cuenta, una plataforma o palabras de un mensaje",
    },
    "matching_messages": {
        "en": "Messages containing it ({count}, newest first)",
        "es": "Mensajes que lo contienen ({count}, los más nuevos primero)",
    },
    "nobody": {"en": "No account matches.", "es": "Ninguna cuenta coincide."},
    "accounts": {"en": "Accounts", "es": "Cuentas"},
    "account": {"en": "Account", "es": "Cuenta"},
    "name": {"en": "Name", "es": "Nombre"},
    "linked_to": {"en": "Linked to", "es": "Vinculada a"},
    "lang": {"en": "Language", "es": "Idioma"},
    "consent": {"en": "Tuning consent", "es": "Consiente ajuste"},
    "last_seen": {"en": "Last message", "es": "Último mensaje"},
    "person": {"en": "Account", "es": "Cuenta"},
    "conversations_of": {"en": "Conversations of {name}", "es": "Conversaciones de {name}"},
    "no_conversations": {"en": "No conversations.", "es": "Sin conversaciones."},
    "conversation": {"en": "Conversation", "es": "Conversación"},
    "open": {"en": "open", "es": "abierta"},
    "n_messages": {"en": "{count} messages", "es": "{count} mensajes"},
    "summary": {"en": "Summary of its older part", "es": "Resumen de su parte anterior"},
    "when": {"en": "When", "es": "Cuándo"},
    "role": {"en": "Role", "es": "Rol"},
    "text": {"en": "Text", "es": "Texto"},
    "outcome": {"en": "Outcome", "es": "Resultado"},
    "rating": {"en": "Rating", "es": "Valoración"},
    # Playground
    "playground": {"en": "Playground", "es": "Pruebas"},
    "playground_about": {
        "en": "The bot's own engine: {backend} · {model} · {db}. Commands work (/help).",
        "es": "El motor del propio bot: {backend} · {model} · {db}. Los comandos funcionan (/help).",
    },
    "new_conversation": {"en": "New conversation", "es": "Conversación nueva"},
    "say_something": {"en": "Write a message", "es": "Escribe un mensaje"},
    # Dataset export
    "dataset": {"en": "Dataset", "es": "Dataset"},
    "dataset_about": {
        "en": "Conversations of the people who consented (/consent), cleaned and redacted,"
        " split into training and validation files for tuning a model.",
        "es": "Conversaciones de quienes dieron su consentimiento (/consent), limpias y"
        " anonimizadas, repartidas en archivos de entrenamiento y validación para ajustar un"
        " modelo.",
    },
    "any": {"en": "any", "es": "cualquiera"},
    "format": {"en": "Format", "es": "Formato"},
    "min_rating": {"en": "Least rating of an answer", "es": "Valoración mínima de una respuesta"},
    "rating_any": {
        "en": "any but 👎 (never trained on)",
        "es": "cualquiera salvo 👎 (nunca se entrena)",
    },
    "rating_1": {"en": "👍 only", "es": "solo 👍"},
    "since": {"en": "Written since (UTC)", "es": "Escritas desde (UTC)"},
    "persona": {"en": "Persona", "es": "Personaje"},
    "seed": {"en": "Split seed", "es": "Semilla del reparto"},
    "validation": {"en": "Share in validation", "es": "Parte en validación"},
    "preview": {"en": "Preview", "es": "Vista previa"},
    "export": {"en": "Export", "es": "Exportar"},
    "train_examples": {"en": "Training examples", "es": "Ejemplos de entrenamiento"},
    "validation_examples": {"en": "Validation examples", "es": "Ejemplos de validación"},
    "left_out": {"en": "Left out, and why", "es": "Descartado, y por qué"},
    "unit": {"en": "What", "es": "Qué"},
    "reason": {"en": "Reason", "es": "Motivo"},
    "examples": {"en": "First {count} examples", "es": "Primeros {count} ejemplos"},
    "download": {"en": "Download the dataset (zip)", "es": "Descargar el dataset (zip)"},
    "whole_summary": {"en": "The whole summary", "es": "El resumen completo"},
}


def t(key: str, lang: str, **kw: object) -> str:
    """The string `key` in `lang` (English if missing), formatted with `kw`."""
    entry = CATALOG[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**kw) if kw else text
