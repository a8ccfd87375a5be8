"""Deterministic fake text embeddings: texts that share words get similar vectors."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

_WORD = re.compile(r"\w+")
# A word counts more than each of its character 3-grams, which catch shared stems
# ("perro"/"perros") and little else.
_WORD_WEIGHT = 1.0
_GRAM_WEIGHT = 0.3


def fold(text: str) -> str:
    """Lowercase with accents removed: "¿Cómo?" and "como" become the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def features(text: str) -> list[tuple[str, float]]:
    """The weighted features of `text`: its folded words and their character 3-grams."""
    found: list[tuple[str, float]] = []
    for word in _WORD.findall(fold(text)):
        found.append((f"w:{word}", _WORD_WEIGHT))
        padded = f" {word} "
        found.extend((f"g:{padded[i : i + 3]}", _GRAM_WEIGHT) for i in range(len(padded) - 2))
    return found


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector for `text`: hashed features (stable across runs and processes)."""
    vector = [0.0] * dimensions
    for feature, weight in features(text):
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        vector[index] += weight if digest[4] & 1 else -weight  # signed: collisions cancel out
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        vector[0] = 1.0  # no words at all: still a valid unit vector
        return vector
    return [x / norm for x in vector]


def cosine(a: list[float], b: list[float]) -> float:
    """The cosine of two vectors (their dot product, when both have unit length)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / ((math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))) or 1.0)
