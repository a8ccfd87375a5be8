"""The words of a message as full-text terms that belong to one person."""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[^\W_]+")  # letters and digits, as FTS5's unicode61 splits words


def words_of(text: str) -> list[str]:
    """The words FTS5's unicode61 tokenizer sees in `text` (before folding)."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text))


def recall_terms(user_id: int, text: str) -> str:
    """A message's words as its owner's own terms: "u42xperro u42xtrufa" for user 42.

    Registered as an SQL function on the store's connection: the migration and the
    triggers that keep recall_fts in step with messages call it.
    """
    words = _TOKEN.findall(unicodedata.normalize("NFC", text))
    return " ".join(f"u{user_id}x{w}" for w in words)
