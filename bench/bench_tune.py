"""`tertulia tune`'s cost: seconds per step and peak memory on 200 examples (needs `make tune`).

Trains the real LoRA for a few steps on 200 synthetic chat examples (questions and
answers of 40-400 characters, half in Spanish) against the chosen local model and prints
the seconds per step, the projected time for the whole run and the process's peak RSS.

    python -m bench.bench_tune [--model smollm2] [--steps 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import random
import time

from bot.models.local import resolve_model
from tuning.data import Example, Message
from tuning.model import encode, load_base, with_lora
from tuning.recipe import load_recipe
from tuning.train import peak_rss_mb, steps_for, train

WORDS = [
    "the",
    "parrot",
    "garden",
    "river",
    "morning",
    "project",
    "train",
    "music",
    "library",
    "bread",
    "window",
    "letter",
    "el",
    "loro",
    "jardín",
    "río",
    "mañana",
    "proyecto",
    "tren",
    "música",
    "biblioteca",
    "pan",
    "ventana",
    "carta",
]


def examples(count: int, seed: int = 1) -> list[Example]:
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        words: list[str] = []
        while len(" ".join(words)) < rng.randint(low, high):
            words.append(rng.choice(WORDS))
        return " ".join(words).capitalize() + "."

    return [
        Example(
            (
                Message("system", "You are tertulia, a friendly assistant."),
                Message("user", text(40, 160) + "?"),
                Message("assistant", text(40, 400), learn=True),
            )
        )
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    base, _ = resolve_model(args.model)
    started = time.monotonic()
    model, tokenizer = load_base(base)
    loaded = time.monotonic() - started
    recipe = load_recipe(None, max_steps=args.steps)
    data = [encode(tokenizer, e, recipe.max_tokens) for e in examples(args.examples)]
    tokens = sum(len(e.ids) for e in data) / len(data)
    trained = train(with_lora(model, recipe), data, recipe, int(tokenizer.pad_token_id))
    per_step = trained.seconds / trained.steps
    default = load_recipe(None)
    mixed = round(default.mix_general * args.examples)  # the base's own answers, mixed in
    full = steps_for(args.examples + mixed, default)
    print(f"model {base.name}, {args.threads} threads; load + dequantise {loaded:.1f} s")
    print(
        f"{args.examples} examples, {tokens:.0f} tokens each on average, batch {recipe.batch_size}"
    )
    print(f"{per_step:.2f} s per step over {trained.steps} steps")
    print(
        f"a full run ({default.epochs} epochs of {args.examples} + {mixed} general examples,"
        f" {full} steps): about {full * per_step / 60:.0f} min of training"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
