"""A conversation's language, es or en, told cheaply by the stopwords its person writes."""

from __future__ import annotations

import re
from collections.abc import Iterable


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent function words of each language; a word both use ("a", "no", "me") tells
# nothing and is left out of both below.
_ES = _words(
    "de la que el en y a los se del las un por con no una su para es al lo como más pero"
    " sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay"
    " donde quien desde todo nos durante todos uno les ni contra otros ese eso ante ellos"
    " esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho quienes"
    " nada muchos cual poco ella estar estas algunas algo nosotros mi mis tú te ti tu tus"
    " ellas estoy estás está estamos están soy eres somos son fue era tengo tiene puedo"
    " puedes hola gracias cómo dónde cuándo por favor quiero necesito sabes usted"
    " bueno vale pues"
)
_EN = _words(
    "the of and to a in is it you that he was for on are with as i his they be at one"
    " have this from or had by not but what some we can out other were all there when up"
    " use your how said an each she which do their if will way about many then them would"
    " like so these her see him has more could go come did my no who over know than"
    " may been now any new just only very after should where why does don't i'm it's"
    " hello thanks please want need could you're what's can't"
)
ES, EN = _ES - _EN, _EN - _ES
_WORD = re.compile(r"[a-záéíóúüñ']+")
MAX_WORDS = 400  # enough to tell; a long conversation costs no more
MIN_HITS = 2  # fewer stopwords than this: too little text to say


def detect(texts: Iterable[str]) -> str | None:
    """ "es", "en", or None when the texts are too short or too mixed to tell."""
    es = en = seen = 0
    for text in texts:
        for word in _WORD.findall(text.lower()):
            es += word in ES
            en += word in EN
            seen += 1
        if seen >= MAX_WORDS:
            break
    if es + en < MIN_HITS or es == en:
        return None
    return "es" if es > en else "en"
