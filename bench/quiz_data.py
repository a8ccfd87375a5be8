"""The local-model quiz: 30 short questions, half in Spanish, each with its accepted answers.

Accepted answers are matched as whole words after lower-casing and dropping accents, so
"Tokio" and "tokio." both pass. No accepted answer appears in its own question, so a model
that only echoes the question scores nothing. Translation questions are not checked for
the answer's language: a right answer is in the other language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["fact", "arithmetic", "translation"]


@dataclass(frozen=True, slots=True)
class Question:
    lang: Literal["en", "es"]
    kind: Kind
    text: str
    accepted: tuple[str, ...]


def _en(kind: Kind, text: str, *accepted: str) -> Question:
    return Question("en", kind, f"{text} Answer in one short sentence.", accepted)


def _es(kind: Kind, text: str, *accepted: str) -> Question:
    return Question("es", kind, f"{text} Responde con una frase corta.", accepted)


QUIZ: tuple[Question, ...] = (
    _en("fact", "What is the capital of France?", "paris"),
    _en("fact", "What is the capital of Japan?", "tokyo"),
    _en("fact", "How many days are there in a week?", "7", "seven"),
    _en("fact", "What colour is the sky on a clear day?", "blue"),
    _en("fact", "Which planet do we live on?", "earth"),
    _en("fact", "What is the largest ocean on Earth?", "pacific"),
    _en("fact", "Who wrote the play Romeo and Juliet?", "shakespeare"),
    _en("fact", "How many legs does a spider have?", "8", "eight"),
    _en("fact", "At how many degrees Celsius does water freeze?", "0", "zero"),
    _en("arithmetic", "What is 2 plus 3?", "5", "five"),
    _en("arithmetic", "What is 12 minus 4?", "8", "eight"),
    _en("arithmetic", "What is 6 times 7?", "42", "forty-two", "forty two"),
    _en("translation", 'Translate into Spanish: "the dog".', "perro"),
    _en("translation", 'Translate into Spanish: "thank you very much".', "muchas gracias"),
    _en("translation", 'Translate into Spanish: "red".', "rojo", "roja"),
    _es("fact", "¿Cuál es la capital de España?", "madrid"),
    _es("fact", "¿Cuál es la capital de Italia?", "roma"),
    _es("fact", "¿Cuántos días tiene una semana?", "7", "siete"),
    _es("fact", "¿De qué color es la hierba?", "verde"),
    _es("fact", "¿Cuántos meses tiene un año?", "12", "doce"),
    _es("fact", '¿Qué animal dice "miau"?', "gato", "gata", "gatos"),
    _es("fact", "¿Quién escribió Don Quijote?", "cervantes"),
    _es("fact", "¿En qué continente está Argentina?", "america", "sudamerica"),
    _es("fact", "¿Cuál es el planeta más grande del sistema solar?", "jupiter"),
    _es("arithmetic", "¿Cuánto es 3 más 4?", "7", "siete"),
    _es("arithmetic", "¿Cuánto es 10 menos 6?", "4", "cuatro"),
    _es("arithmetic", "¿Cuánto es 5 por 5?", "25", "veinticinco"),
    _es("translation", 'Traduce al inglés: "el gato".', "cat"),
    _es("translation", 'Traduce al inglés: "buenos días".', "good morning"),
    _es("translation", 'Traduce al inglés: "agua".', "water"),
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent words that tell the two languages apart in a one-sentence answer. Words both
# languages share ("no", "a", "me") are left out.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the is are was of and to in it that this with for on be has have there what which"
        " answer largest planet days week legs water freezes degrees times plus minus"
        " equals sky colour blue"
    ),
    "es": _words(
        "el la los las es son de del y en que un una con por para al tiene hay esta está"
        " respuesta semana dias días meses año planeta grande más menos igual"
        " continente escribió escribio"
    ),
}
