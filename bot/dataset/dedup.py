"""Duplicates: the same text once normalised (exact), or word 3-grams with Jaccard >= 0.9 (near)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from array import array

NEAR = 0.9  # Jaccard similarity of word 3-gram sets from which two examples are one
# A MinHash signature by one-permutation hashing: each 3-gram is hashed once into one of
# BINS bins, which keep their smallest value. Banded for lookup: two examples become
# candidates when all ROWS bins of any one of BANDS bands agree; at Jaccard 0.9 that
# happens with probability 1 - (1 - 0.9**6)**10 > 0.999, at 0.5 with 0.15. Candidates
# are then compared bin by bin. Hashes are zlib's CRC-32 of each word, mixed into a
# 64-bit value per 3-gram: stable across runs (hash() of text is not), and computed in C.
BINS, BANDS, ROWS = 60, 10, 6
_EMPTY = 0xFFFFFFFF
_M64 = 2**64 - 1
_K1, _K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F  # odd 64-bit multipliers
_WORD = re.compile(r"\w+")


# Combining marks, as NFKD leaves them after a letter: "á" -> "a" + U+0301.
_MARKS = re.compile("[\u0300-\u036f]")


def normalize(text: str) -> str:
    """Case, accents, punctuation and spacing folded: "¿Qué  tal?" reads as "que tal"."""
    bare = _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return " ".join(_WORD.findall(bare))


def signature(normalized: str) -> array[int]:
    """The text's MinHash signature: BINS 32-bit values."""
    h = list(map(zlib.crc32, map(str.encode, normalized.split()))) or [0]
    h += [0] * (3 - len(h))  # a text of one or two words is one 3-gram
    triples = zip(h, h[1:], h[2:], strict=False)
    # Sorted ascending, a 3-gram's value (its high 31 bits: never _EMPTY) ascends too:
    # read backwards, each bin's smallest value is written last. Repeats change nothing.
    grams = sorted(((a * _K1) ^ (b * _K2) ^ c) & _M64 for a, b, c in triples)
    least = {g % BINS: g >> 33 for g in reversed(grams)}
    sig = array("I", [least.get(i, _EMPTY) for i in range(BINS)])
    # A short text leaves bins empty: each borrows from the next full bin to its right,
    # mixed with the distance ("densification"), so two texts agree on a borrowed bin
    # only where they agree on the bin it came from.
    if len(least) < BINS:
        full, j = sorted(least), 0
        for i in range(BINS):
            if sig[i] == _EMPTY:
                while j < len(full) and full[j] < i:
                    j += 1
                k = full[j] if j < len(full) else full[0]
                sig[i] = (sig[k] * 0x9E3779B1 + (k - i) % BINS) & 0xFFFFFFFE
    return sig


def similarity(a: array[int], b: array[int]) -> float:
    """The estimated Jaccard similarity of the shingle sets behind two signatures."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / BINS


class Deduper:
    """Remembers the examples kept so far; `check` says whether a new one repeats one.

    Per kept example, about 1 KB: a 16-byte digest of its text, and for each band a dict
    entry from a 64-bit digest of the band's values to the signature of the first
    example that filled it (a later look-alike is compared with that one).
    """

    def __init__(self) -> None:
        self._exact: set[bytes] = set()
        self._bands: dict[int, array[int]] = {}

    def check(self, text: str) -> str:
        """ "exact" or "near" when `text` repeats a kept example, else "" (and it is kept)."""
        normalized = normalize(text)
        digest = hashlib.blake2b(normalized.encode(), digest_size=16).digest()
        if digest in self._exact:
            return "exact"
        sig = signature(normalized)
        keys = [_band(band, sig[band * ROWS : (band + 1) * ROWS]) for band in range(BANDS)]
        for key in keys:
            other = self._bands.get(key)
            if other is not None and similarity(sig, other) >= NEAR:
                return "near"
        self._exact.add(digest)
        for key in keys:
            self._bands.setdefault(key, sig)
        return ""


def _band(band: int, values: array[int]) -> int:
    """One band's key: its number and values, hashed to 64 bits (a collision, at 2**-64 a
    pair, only costs a comparison)."""
    data = bytes([band]) + values.tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
