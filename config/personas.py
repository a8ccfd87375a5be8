"""The personas tertulia ships with, read from personas.toml as plain values."""

from __future__ import annotations

import tomllib
from pathlib import Path

PERSONAS_FILE = Path(__file__).with_name("personas.toml")
FIELDS = ("prompt", "description_en", "description_es")


def load_personas(path: Path = PERSONAS_FILE) -> dict[str, dict[str, str]]:
    """Every persona in file order: name -> {prompt, description_en, description_es}."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {name: {f: str(entry[f]) for f in FIELDS} for name, entry in data.items()}
