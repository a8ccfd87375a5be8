"""One tuning run, end to end: data, base answers to mix in, train, write, check, report."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import torch

from tuning import data, model
from tuning.adapter_file import write_adapter
from tuning.check import Verdict, judge
from tuning.recipe import Recipe, load_recipe
from tuning.report import write_report
from tuning.train import Trained, evaluate, peak_rss_mb, steps_for, time_one_step, train

# ask(lora, system, prompt): the served model's answer (llama.cpp, through the bot's local
# backend), with the adapter file `lora` on top of the base, or the base alone (None).
Ask = Callable[[Path | None, str, str], str]

PROBES = 6  # taught prompts asked again after the run (the shortest answers)
ADAPTER = "lora.gguf"
REJECTED = "lora.rejected.gguf"


@dataclass(frozen=True, slots=True)
class Plan:
    base: Path  # the GGUF the bot serves
    data: Path  # an openai-chat export folder (train.jsonl, validation.jsonl, tuning.toml)
    out: Path  # where the adapter and the evaluation go
    threads: int
    overrides: dict[str, int | float | None]

    def recipe(self) -> Recipe:
        return load_recipe(self.data / "tuning.toml", **self.overrides)


@dataclass(frozen=True, slots=True)
class Estimate:
    examples: int
    steps: int
    seconds_per_step: float
    seconds: float
    peak_rss_mb: float


@dataclass(frozen=True, slots=True)
class Result:
    adapter: Path
    passed: bool
    reason: str
    trained: Trained
    loss_before: float
    loss_after: float
    verdict: Verdict


def _setup(plan: Plan) -> tuple[Recipe, data.Dataset, object, object]:
    recipe = plan.recipe()
    dataset = data.load_dataset(plan.data)
    torch.set_num_threads(plan.threads)
    base, tokenizer = model.load_base(plan.base)
    return recipe, dataset, base, tokenizer


def _mix_count(recipe: Recipe, dataset: data.Dataset) -> int:
    return round(recipe.mix_general * len(dataset.train))


def estimate(plan: Plan) -> Estimate:
    """`--dry-run`: one timed step on the longest examples, scaled to the whole run."""
    recipe, dataset, base, tokenizer = _setup(plan)
    encoded = [model.encode(tokenizer, e, recipe.max_tokens) for e in dataset.train]
    tuned = model.with_lora(base, recipe)
    pad = int(tokenizer.pad_token_id)  # type: ignore[attr-defined]
    per_step = time_one_step(tuned, encoded, recipe, pad)
    examples = len(dataset.train) + _mix_count(recipe, dataset)
    steps = steps_for(examples, recipe)
    asks = min(_mix_count(recipe, dataset), len(data.GENERAL)) + 2 * (
        min(PROBES, len(dataset.train)) + len(data.HELD_OUT)
    )
    # A short answer from llama.cpp takes about a second on two cores.
    return Estimate(examples, steps, per_step, steps * per_step + asks * 1.5, peak_rss_mb())


def tune(plan: Plan, ask: Ask, out: TextIO = sys.stderr) -> Result:
    recipe, dataset, base, tokenizer = _setup(plan)
    system = dataset.system
    count = _mix_count(recipe, dataset)

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    say(f"base answers to {min(count, len(data.GENERAL))} general prompts (mixed in)…")
    answers = {p: ask(None, system, p) for p in data.GENERAL[: min(count, len(data.GENERAL))]}
    examples = dataset.train + data.general_examples(answers, system, count, recipe.seed)
    encoded = [model.encode(tokenizer, e, recipe.max_tokens) for e in examples]
    held = [model.encode(tokenizer, e, recipe.max_tokens) for e in dataset.validation]
    pad = int(tokenizer.pad_token_id)  # type: ignore[attr-defined]
    tuned = model.with_lora(base, recipe)
    before = evaluate(tuned, held, pad)  # a fresh LoRA changes nothing: the base's loss
    probes = sorted(dataset.train, key=lambda e: len(e.answer))[:PROBES]
    say(f"{len(probes) + len(data.HELD_OUT)} check prompts to the base model…")
    base_taught = [ask(None, e.system, e.prompt) for e in probes]
    base_general = [ask(None, system, p) for p in data.HELD_OUT]
    say(f"training on {len(dataset.train)} examples + {count} general ones…")
    trained = train(tuned, encoded, recipe, pad, out)
    after = evaluate(tuned, held, pad)
    plan.out.mkdir(parents=True, exist_ok=True)
    adapter = plan.out / ADAPTER
    staged = plan.out / f".{ADAPTER}.tmp"
    write_adapter(tuned, plan.base, staged, recipe.lora_alpha)
    say("the same check prompts to the tuned model…")
    taught = [
        (e.prompt, e.answer, b, ask(staged, e.system, e.prompt))
        for e, b in zip(probes, base_taught, strict=True)
    ]
    general = [
        (p, b, ask(staged, system, p)) for p, b in zip(data.HELD_OUT, base_general, strict=True)
    ]
    verdict = judge(taught, general)
    if not verdict.passed:
        adapter = plan.out / REJECTED
    staged.replace(adapter)
    result = Result(adapter, verdict.passed, verdict.reason(), trained, before, after, verdict)
    write_report(plan.out, result_fields(result, recipe), verdict)
    return result


def result_fields(result: Result, recipe: Recipe) -> dict[str, object]:
    """What evaluation.json records about a run."""
    per_step = result.trained.seconds / result.trained.steps if result.trained.steps else 0.0
    return {
        "adapter": result.adapter.name,
        "passed": result.passed,
        "reason": result.reason,
        "recipe": asdict(recipe),
        "steps": result.trained.steps,
        "seconds": round(result.trained.seconds, 1),
        "seconds_per_step": round(per_step, 2),
        "peak_rss_mb": round(result.trained.peak_rss_mb),
        "train_loss": [_round(result.trained.first_loss), _round(result.trained.last_loss)],
        "validation_loss": [_round(result.loss_before), _round(result.loss_after)],
        "recall": result.verdict.recall,
        "leakage": result.verdict.leakage,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
