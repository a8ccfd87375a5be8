"""Redaction: e-mails, phones, secrets, credentials in URLs and platform ids become placeholders."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection

# What each kind of match becomes. A placeholder says what was there, never what it was.
PLACEHOLDERS: dict[str, str] = {
    "url_credentials": "[url]",
    "email": "[email]",
    "mention": "[mention]",
    "telegram_token": "[token]",
    "discord_token": "[token]",
    "jwt": "[token]",
    "api_key": "[key]",
    "secret": "[secret]",
    "phone": "[phone]",
    "platform_id": "[user-id]",
}

# One alternation, scanned once per text; at any position the first kind listed wins, so
# the more specific shapes come first (a URL's user:pass@ before an e-mail, a bot token's
# digits before an id). The catch-all for random-looking secrets runs afterwards, on what
# is left: run together with these it would swallow `OPENAI_API_KEY=sk-...` whole and
# then let it go for its underscores.
_KINDS = (
    # scheme://user:password@host...: the whole URL goes, the host may be private too.
    ("url_credentials", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]+:[^\s/?#@]+@\S+"),
    ("email", r"(?<![\w.+'-])[\w.+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    # Discord's mentions of users, roles and channels: <@123>, <@!123>, <@&123>, <#123>.
    ("mention", r"<(?:@[!&]?|#)\d{5,}>"),
    # BotFather's tokens: the bot's id, a colon, 35 characters (also inside a Bot API URL,
    # .../bot<token>/method).
    ("telegram_token", r"(?:(?<=bot)|(?<![\w-]))\d{6,12}:[A-Za-z0-9_-]{35}(?![\w-])"),
    # JSON Web Tokens: header, payload (which may hold an id or an e-mail) and signature.
    ("jwt", r"(?<![\w-])eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"),
    # Discord's: base64 of the bot's id, a timestamp and an HMAC, dot-separated.
    ("discord_token", r"(?<![\w-])[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"),
    # Keys with a known prefix: OpenAI (sk-), Google (AIza), AWS (AKIA), GitHub, Slack.
    (
        "api_key",
        r"(?<![\w-])(?:sk-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}|AKIA[0-9A-Z]{16}"
        r"|gh[pousr]_[A-Za-z0-9]{36,}|xox[abprs]-[A-Za-z0-9-]{10,})",
    ),
    # Digits with separators or a leading +; told from dates and numbers below.
    ("phone", r"(?<![\w+(])(?:\+|\()?\d[\d ().-]{6,}\d(?!\w)"),
    ("platform_id", r"(?<![\w-])\d{5,20}(?![\w-])"),
)
_PATTERN = re.compile("|".join(f"(?P<{kind}>{rx})" for kind, rx in _KINDS))
# Any long unbroken run of key-like characters (base64's = only as padding, so `NAME=`
# stays out of it); kept unless it looks random (below).
_SECRET = re.compile(r"(?<![A-Za-z0-9_+/-])(?P<secret>[A-Za-z0-9_+/-]{32,}={0,2})(?![\w+/=-])")
# Nothing above can match a text with neither a digit nor an @ (every key, token and
# phone has digits): such texts, most of them, skip the scan.
_MAYBE = re.compile(r"[0-9@]")

SECRET_BITS = 3.5  # bits per character: English prose ~4.1 but has no digits mixed in
_GROUPED = re.compile(r"\(?\d{2,4}\)?(?:[ .-]\(?\d{2,4}\)?){2,5}")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_IP = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# A Spanish number written without spaces: a mobile (6, 7) or a landline (8, 9), with or
# without the country code. The first users are in Spain.
_SPANISH = re.compile(r"(?:(?:\+|00)?34)?[6-9]\d{8}")


class Redactor:
    """Replaces what could identify someone or open an account; counts each kind replaced.

    `platform_ids`: numeric ids of people known to the store, replaced wherever they
    stand alone in a text.
    """

    def __init__(self, platform_ids: Collection[str] = ()) -> None:
        self.platform_ids = frozenset(platform_ids)
        self.counts: Counter[str] = Counter()

    def __call__(self, text: str) -> str:
        if not _MAYBE.search(text):
            return text
        return _SECRET.sub(self._replace, _PATTERN.sub(self._replace, text))

    def _replace(self, match: re.Match[str]) -> str:
        kind, found = match.lastgroup or "", match.group()
        if kind == "secret" and not looks_random(found):
            return found
        if kind == "phone" and not looks_like_phone(found):
            # A bare run of digits may still be someone's id.
            kind = "platform_id" if found.isdigit() else ""
        if kind == "platform_id" and found not in self.platform_ids:
            return found
        if not kind:
            return found
        self.counts[kind] += 1
        return PLACEHOLDERS[kind]


def looks_random(text: str) -> bool:
    """A key or token rather than a word: letters and digits mixed, few separators, and
    as many bits per character as random text has (a slug or a long word has fewer)."""
    if not (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
        return False
    if sum(c in "-_" for c in text) > 2:
        return False
    counts = Counter(text).values()
    bits = -sum(n / len(text) * math.log2(n / len(text)) for n in counts)
    return bits >= SECRET_BITS


def looks_like_phone(text: str) -> bool:
    """9 to 15 digits written as a phone is: a leading + or groups of 2-4 digits; never a
    date, an IP address or a bare number (a count, a price, a year)."""
    digits = sum(c.isdigit() for c in text)
    if not 9 <= digits <= 15 or _DATE.search(text) or _IP.fullmatch(text):
        return False
    return text.startswith("+") or bool(_GROUPED.fullmatch(text)) or bool(_SPANISH.fullmatch(text))
