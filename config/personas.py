"""The personas tertulia ships with, loaded from personas.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PERSONAS_FILE = Path(__file__).with_name("personas.toml")


@dataclass(frozen=True, slots=True)
class Persona:
    """A system prompt with a name and a description in each language."""

    name: str
    prompt: str
    description_en: str
    description_es: str

    def description(self, lang: str) -> str:
        return self.description_es if lang == "es" else self.description_en


def load_personas(path: Path = PERSONAS_FILE) -> dict[str, Persona]:
    """Read every persona from a TOML file, in file order."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {
        name: Persona(
            name=name,
            prompt=str(entry["prompt"]),
            description_en=str(entry["description_en"]),
            description_es=str(entry["description_es"]),
        )
        for name, entry in data.items()
    }
