"""The tuning recipe: hyperparameters from tuning.toml's [local] table, with their defaults."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from bot.dataset.tuning import LOCAL_TABLE


class RecipeError(ValueError):
    """tuning.toml has a value that cannot work; the message names it."""


@dataclass(frozen=True, slots=True)
class Recipe:
    """What one tuning run does; every field is a key of tuning.toml's [local] table."""

    learning_rate: float
    batch_size: int
    epochs: int
    lora_dropout: float
    lora_r: int
    lora_alpha: int
    mix_general: float
    max_tokens: int
    seed: int
    max_steps: int = 0  # 0: as many as the epochs take (a CLI override, not in the file)

    def check(self) -> Recipe:
        bad = [
            name
            for name, ok in (
                ("learning_rate", 0 < self.learning_rate < 1),
                ("batch_size", 1 <= self.batch_size <= 256),
                ("epochs", 1 <= self.epochs <= 100),
                ("lora_dropout", 0 <= self.lora_dropout < 1),
                ("lora_r", 1 <= self.lora_r <= 256),
                ("lora_alpha", self.lora_alpha > 0),
                ("mix_general", 0 <= self.mix_general <= 10),
                ("max_tokens", 32 <= self.max_tokens <= 8192),
                ("max_steps", self.max_steps >= 0),
            )
            if not ok
        ]
        if bad:
            raise RecipeError(f"tuning.toml: {bad[0]} = {getattr(self, bad[0])!r} is out of range")
        return self


def load_recipe(path: Path | None, **overrides: Any) -> Recipe:
    """The [local] table of `path` over the documented defaults (the table the export
    writes, bot/dataset/tuning.py), then `overrides` from the command line."""
    values = _table(tomllib.loads(LOCAL_TABLE)["local"], "defaults")
    if path is not None and path.is_file():
        try:
            values |= _table(tomllib.loads(path.read_text(encoding="utf-8")).get("local", {}), path)
        except tomllib.TOMLDecodeError as exc:
            raise RecipeError(f"{path}: not valid TOML ({exc})") from None
    recipe = Recipe(**values)
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None}).check()


def _table(table: dict[str, Any], where: object) -> dict[str, Any]:
    known = {f.name: f.type for f in fields(Recipe) if f.name != "max_steps"}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise RecipeError(f"{where}: unknown key {key!r} in [local]")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecipeError(f"{where}: {key} must be a number")
        values[key] = float(value) if known[key] == "float" else int(value)
    return values
