"""Seeded dialogues for the recall benchmark: small talk, planted facts, questions about them."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from bench.bench_recall_vocab import (
    ANIMALS,
    CATEGORIES,
    EVIDENCE_OPENERS,
    FACT_WORDING,
    MONTHS,
    OPENERS,
    PEOPLE,
    TAILS,
    TOPICS,
)


@dataclass(frozen=True, slots=True)
class Question:
    kind: str  # "overlap": shares a word with the evidence turn; "paraphrase": shares none
    text: str
    answer: str  # in the evidence turn and in no other turn of this person
    evidence: str  # the turn that holds the answer (the update, when there is one)
    stale: str  # the answer before the update, "" when never updated


@dataclass(slots=True)
class Person:
    lang: str
    sessions: list[list[str]]  # user turns of each conversation
    questions: list[Question]
    # Each turn that plants a fact -> (the fact's short wording, the wording it updates or "")
    planted: dict[str, tuple[str, str]] = field(default_factory=dict)


def fold(text: str) -> str:
    """Lower case without accents, as FTS5's unicode61 with remove_diacritics 2 sees it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def shared_words(question: str, turn: str) -> set[str]:
    """Words of at least three letters in both, folded: what a full-text search could match."""
    return {w for w in re.findall(r"\w{3,}", fold(question))} & set(
        re.findall(r"[^\W_]+", fold(turn))
    )


def contains(text: str, phrase: str) -> bool:
    """`phrase` in `text` as whole words, accents and case folded."""
    return re.search(rf"(?<!\w){re.escape(fold(phrase))}(?!\w)", fold(text)) is not None


def small_talk(rng: random.Random, lang: str, topics: list[str]) -> str:
    """One message of 5-20 words about the person's usual topics."""
    parts = [
        rng.choice(TOPICS[lang][rng.choice(topics)].split("|"))
        for _ in range(rng.choice((1, 1, 2)))
    ]
    body = ", y " if lang == "es" else ", and "
    text = rng.choice(OPENERS[lang]) + body.join(parts) + rng.choice(TAILS[lang])
    return text[0].upper() + text[1:]


def person(rng: random.Random, lang: str, sessions: int, lo: int = 6, hi: int = 20) -> Person:
    """A person's conversations, with 6-8 facts planted (some updated later) and the questions."""
    topics = rng.sample(sorted(TOPICS[lang]), 4)
    slots = {"sis": rng.choice(PEOPLE[lang]), "animal": rng.choice(ANIMALS[lang])}
    names = rng.sample(sorted(CATEGORIES[lang]), rng.randint(6, 8))
    chosen = [CATEGORIES[lang][n] for n in names]
    # Small talk, about one turn in eight a mention: a fact's subject without its answer.
    talk = [
        [
            rng.choice(rng.choice(chosen).mentions).format(**slots) + "."
            if rng.random() < 0.12
            else small_talk(rng, lang, topics)
            for _ in range(rng.randint(lo, hi))
        ]
        for _ in range(sessions)
    ]
    questions: list[Question] = []
    planted: dict[str, tuple[str, str]] = {}
    for name, cat in zip(names, chosen, strict=True):
        wording = FACT_WORDING[name][lang == "en"]
        if not cat.answers:  # a birthday
            es = f"{rng.randint(1, 28)} de {rng.choice(MONTHS['es'].split())}"
            en = f"{rng.choice(MONTHS['en'].split())} {rng.randint(1, 28)}"
            first = new = es if lang == "es" else en
        else:
            first, new = rng.sample(cat.answers, 2)
        opener = rng.choice(EVIDENCE_OPENERS[lang])
        said = rng.choice(cat.statements).format(v=first, **slots)
        if opener and not said.startswith("I"):
            said = said[0].lower() + said[1:]
        evidence = _sentence(opener + said)
        session = rng.randrange(max(1, sessions - 1) if cat.update else sessions)
        _plant(rng, talk[session], evidence)
        fact = wording.format(v=first, **slots)
        planted[evidence] = (fact, "")
        answer, stale = first, ""
        if cat.update and sessions > 1 and rng.random() < 0.4:
            evidence = _sentence(cat.update.format(v=new, old=first, **slots))
            _plant(rng, talk[rng.randrange(session + 1, sessions)], evidence)
            planted[evidence] = (wording.format(v=new, **slots), fact)
            answer, stale = new, first
        for kind, pool in (("overlap", cat.overlap), ("paraphrase", cat.paraphrase)):
            wanted = kind == "overlap"
            texts = [q.format(**slots) for q in pool]
            fits = [q for q in texts if bool(shared_words(q, evidence)) == wanted]
            if not fits:
                raise ValueError(f"no {kind} question fits {evidence!r}")
            questions.append(Question(kind, rng.choice(fits), answer, evidence, stale))
    rng.shuffle(questions)
    _check(talk, questions)
    return Person(lang, talk, questions, planted)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _plant(rng: random.Random, turns: list[str], text: str) -> None:
    turns.insert(rng.randint(0, len(turns)), text)


def _check(talk: list[list[str]], questions: list[Question]) -> None:
    """Each answer sits in its evidence turn only: finding it in a request means recall found it."""
    turns = [t for session in talk for t in session]
    for q in questions:
        holders = [t for t in turns if contains(t, q.answer)]
        if holders != [q.evidence] or contains(q.text, q.answer):
            raise ValueError(f"answer {q.answer!r} is in {holders} (question {q.text!r})")


def dialogues(seed: int, people: int, sessions: int) -> list[Person]:
    """`people` people, half in Spanish and half in English, each with `sessions` conversations."""
    rng = random.Random(seed)
    return [person(rng, ("es", "en")[i % 2], sessions) for i in range(people)]


# -- the large database and the latency queries ----------------------------------------------

RARE = "ornitorrinco zarzuela quásar nenúfar cardumen alféizar zepelín xilófono ñandú quokka platypus xylophone marmalade zucchini walrus origami saxhorn kumquat"


def queries(rng: random.Random, n: int, lang: str = "es") -> list[tuple[str, str]]:
    """Messages to recall with: small talk (matches many rows), questions, unseen words (none)."""
    topics = sorted(TOPICS[lang])
    slots = {"sis": PEOPLE[lang][0], "animal": ANIMALS[lang][0]}
    out: list[tuple[str, str]] = []
    for i in range(n):
        if i % 3 == 0:
            out.append(("small talk", small_talk(rng, lang, topics)))
        elif i % 3 == 1:
            cat = rng.choice(list(CATEGORIES[lang].values()))
            extra = small_talk(rng, lang, topics) if rng.random() < 0.5 else ""
            out.append(
                (
                    "question",
                    f"{rng.choice(cat.overlap + cat.paraphrase).format(**slots)} {extra}".strip(),
                )
            )
        else:
            words = rng.sample(RARE.split(), rng.randint(5, 10))
            out.append(("unseen words", " y ".join(words).capitalize() + "."))
    return out
