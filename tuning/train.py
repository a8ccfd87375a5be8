"""The training loop: AdamW on the LoRA weights, batches padded per batch, loss and ETA shown."""

from __future__ import annotations

import math
import random
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import torch
from tqdm import tqdm

from tuning.model import Encoded, batch
from tuning.recipe import Recipe

# Longer batches keep activations for backward only per block (recomputed), trading about
# a third more time for far less memory.
CHECKPOINT_FROM = 192


@dataclass(frozen=True, slots=True)
class Trained:
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    peak_rss_mb: float


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def steps_for(examples: int, recipe: Recipe) -> int:
    steps = math.ceil(examples / recipe.batch_size) * recipe.epochs
    return min(steps, recipe.max_steps) if recipe.max_steps else steps


def _batches(encoded: Sequence[Encoded], recipe: Recipe) -> list[list[Encoded]]:
    rng = random.Random(recipe.seed)
    out: list[list[Encoded]] = []
    for _ in range(recipe.epochs):
        order = list(encoded)
        rng.shuffle(order)
        out += [order[i : i + recipe.batch_size] for i in range(0, len(order), recipe.batch_size)]
    return out[: recipe.max_steps] if recipe.max_steps else out


def _loss(model: Any, chunk: list[Encoded], pad_id: int) -> torch.Tensor:
    loss: torch.Tensor = model(**batch(chunk, pad_id)).loss
    return loss


def train(
    model: Any, encoded: Sequence[Encoded], recipe: Recipe, pad_id: int, out: TextIO = sys.stderr
) -> Trained:
    """Train the LoRA of `model` in place."""
    torch.manual_seed(recipe.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=recipe.learning_rate, weight_decay=0.0)
    batches = _batches(encoded, recipe)
    if any(len(e.ids) > CHECKPOINT_FROM for e in encoded):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    losses: list[float] = []
    started = time.monotonic()
    bar = tqdm(batches, desc="tuning", unit="step", file=out, dynamic_ncols=True)
    for chunk in bar:
        loss = _loss(model, chunk, pad_id)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    model.eval()
    return Trained(
        steps=len(losses),
        seconds=time.monotonic() - started,
        first_loss=losses[0] if losses else math.nan,
        last_loss=losses[-1] if losses else math.nan,
        peak_rss_mb=peak_rss_mb(),
    )


def evaluate(model: Any, encoded: Sequence[Encoded], pad_id: int, size: int = 8) -> float:
    """Mean loss over `encoded` (the held-out examples), no gradients."""
    if not encoded:
        return math.nan
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(encoded), size):
            chunk = list(encoded[i : i + size])
            total += float(_loss(model, chunk, pad_id)) * len(chunk)
            count += len(chunk)
    return total / count


def time_one_step(model: Any, encoded: Sequence[Encoded], recipe: Recipe, pad_id: int) -> float:
    """Seconds for one step on the longest examples (the dry run's estimate); no update."""
    longest = sorted(encoded, key=lambda e: len(e.ids))[-recipe.batch_size :]
    model.train()
    started = time.monotonic()
    loss = _loss(model, list(longest), pad_id)
    loss.backward()  # type: ignore[no-untyped-call]
    model.zero_grad(set_to_none=True)
    model.eval()
    return time.monotonic() - started
