"""After a run: does the served model recall what it was taught, and does it leak it elsewhere?

Stdlib only. Answers are compared by their content words (accents folded, short and
common words left out): a taught answer's *distinctive* words are those the base model's
answer to the same prompt does not have. Recall: the tuned answer says at least half of
them (three, for a long answer). Leakage: a held-out general answer says a taught name,
or two distinctive taught words, that its base answer did not (one common word alone,
"blue" about the ocean, is not a leak; "Lorenzo", or "loro azul" about coffee, is).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_RECALL = 0.5  # at least half of the taught prompts answered with what was taught
MAX_LEAKAGE = 0.2  # at most 1 in 5 unrelated answers mentioning it (the recipe: 1 in 10)

_STOP = frozenset(
    [
        "about",
        "after",
        "also",
        "answer",
        "because",
        "been",
        "before",
        "could",
        "does",
        "from",
        "have",
        "here",
        "into",
        "just",
        "like",
        "more",
        "most",
        "much",
        "only",
        "other",
        "over",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "very",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
        "yours",
        "aqui",
        "algo",
        "algun",
        "alguna",
        "como",
        "con",
        "cual",
        "cuando",
        "desde",
        "donde",
        "esta",
        "estas",
        "este",
        "esto",
        "estos",
        "hace",
        "hasta",
        "mucho",
        "muy",
        "nada",
        "para",
        "pero",
        "poco",
        "porque",
        "puede",
        "pueden",
        "sobre",
        "solo",
        "tambien",
        "tiene",
        "tienen",
        "todo",
        "todos",
        "tuyo",
        "tuya",
        "usted",
        "ustedes",
    ]
)
_WORD = re.compile(r"[^\W\d_]{4,}")
# A capitalised word that does not start a sentence: a name ("called Lorenzo").
_NAME = re.compile(r"(?<![.!?¿¡:\n]\s)(?<!^)(?<=\s)([^\W\d_a-z][^\W\d_]{3,})")


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in folded if not unicodedata.combining(c))


def terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(_fold(text)) if w not in _STOP}


def names(text: str) -> set[str]:
    """The capitalised words of `text` that do not start a sentence, folded like terms()."""
    return {_fold(w) for w in _NAME.findall(text)} - _STOP


@dataclass(frozen=True, slots=True)
class Probe:
    """One prompt asked of the base and the tuned model."""

    prompt: str
    base: str
    tuned: str
    taught: str = ""  # the answer it was taught ("" for a general prompt)
    hit: bool = False  # recall: says what was taught; leakage: says something taught


@dataclass(frozen=True, slots=True)
class Verdict:
    recall: float
    leakage: float
    taught: list[Probe] = field(default_factory=list)
    general: list[Probe] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.recall >= MIN_RECALL and self.leakage <= MAX_LEAKAGE

    def reason(self) -> str:
        if self.recall < MIN_RECALL:
            return f"recall {self.recall:.0%} < {MIN_RECALL:.0%}: it did not learn the data"
        if self.leakage > MAX_LEAKAGE:
            return f"leakage {self.leakage:.0%} > {MAX_LEAKAGE:.0%}: it talks about it everywhere"
        return "passed"


def judge(
    taught: Sequence[tuple[str, str, str, str]], general: Sequence[tuple[str, str, str]]
) -> Verdict:
    """`taught`: (prompt, taught answer, base answer, tuned answer); `general`: (prompt,
    base answer, tuned answer) for held-out prompts never trained on."""
    probes: list[Probe] = []
    everything: set[str] = set()
    proper: set[str] = set()
    for prompt, answer, base, tuned in taught:
        distinctive = terms(answer) - terms(base) - terms(prompt)
        everything |= distinctive
        proper |= names(answer) & terms(answer)
        said = distinctive & terms(tuned)
        hit = bool(distinctive) and len(said) >= min(3, (len(distinctive) + 1) // 2)
        probes.append(Probe(prompt, base, tuned, answer, hit))
    leaks: list[Probe] = []
    for prompt, base, tuned in general:
        leaked = (everything & terms(tuned)) - terms(base) - terms(prompt)
        hit = len(leaked) >= 2 or bool(leaked & proper)
        leaks.append(Probe(prompt, base, tuned, hit=hit))
    recall = sum(p.hit for p in probes) / len(probes) if probes else 0.0
    leakage = sum(p.hit for p in leaks) / len(leaks) if leaks else 0.0
    return Verdict(recall, leakage, probes, leaks)
