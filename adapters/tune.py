"""`tertulia tune DATA_DIR`: LoRA refinamiento of the local model (the optional `tune` extra)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.types import Turn
from config.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.models.local import LocalModel

CHECK_TOKENS = 48  # each check answer: enough to say a fact, short enough to be quick


def add_parser(sub: Any) -> None:
    tune = sub.add_parser(
        "tune",
        help="fine-tune the local model on an openai-chat export (needs `make tune`)",
        epilog="exit status: 0 adapter written and checked; 1 the check failed (the base"
        " model is kept, the adapter is written as lora.rejected.gguf); 2 a bad option",
    )
    tune.add_argument("data", metavar="DATA_DIR", help="a `tertulia dataset export` folder")
    tune.add_argument("--out", metavar="DIR", help="where to write (default: DATA_DIR/tuned)")
    tune.add_argument("--dry-run", action="store_true", help="estimate time and memory only")
    tune.add_argument("--epochs", type=int, help="override tuning.toml's epochs")
    tune.add_argument("--max-steps", type=int, help="stop after this many steps")
    tune.add_argument("--threads", type=int, help="CPU threads (default: all cores)")


class _Answers:
    """The served model's answers for the check: llama.cpp through the bot's local backend,
    on the base weights or with the adapter file on top, one model loaded at a time."""

    def __init__(self, base: Path, threads: int) -> None:
        self.base, self.threads = base, threads
        self.model: LocalModel | None = None
        self.lora: Path | None = None

    async def ask(self, lora: Path | None, system: str, prompt: str) -> str:
        if self.model is None or self.lora != lora:
            from bot.models.local import LocalModel, Sampling

            if self.model is not None:
                await self.model.close()
            self.model = LocalModel(
                self.base,
                lora=lora,
                threads=self.threads,
                max_output_tokens=CHECK_TOKENS,
                sampling=Sampling(temperature=0.0),  # the same prompt, the same answer
            )
            self.lora = lora
            await self.model.open()
        parts = [p async for p in self.model.stream(system, [Turn("user", prompt)])]
        return "".join(parts).strip()

    async def close(self) -> None:
        if self.model is not None:
            await self.model.close()


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from tuning.data import DataError
        from tuning.recipe import RecipeError
        from tuning.run import Plan, estimate
    except ImportError as exc:
        print(f"tertulia tune needs the tune extra: run `make tune` ({exc.name} is missing)")
        return 2
    from bot.models.local import resolve_model

    data = Path(args.data)
    base, _ = resolve_model(settings.local_model)
    threads = args.threads or os.cpu_count() or 1
    overrides = {"epochs": args.epochs, "max_steps": args.max_steps}
    plan = Plan(base, data, Path(args.out) if args.out else data / "tuned", threads, overrides)
    try:
        if args.dry_run:
            e = estimate(plan)
            print(
                f"{e.examples} examples, {e.steps} steps of {plan.recipe().batch_size};"
                f" about {e.seconds_per_step:.1f} s per step, {e.seconds / 60:.1f} min in all;"
                f" peak memory about {e.peak_rss_mb:.0f} MB ({base.name}, {threads} threads)"
            )
            return 0
        return asyncio.run(_tune(plan, base, threads))
    except (DataError, RecipeError) as exc:
        raise SettingsError(str(exc)) from None


async def _tune(plan: Any, base: Path, threads: int) -> int:
    from tuning.run import tune

    answers = _Answers(base, threads)
    loop = asyncio.get_running_loop()

    def ask(lora: Path | None, system: str, prompt: str) -> str:
        # The training runs on this thread; the check's answers come from the loop.
        return asyncio.run_coroutine_threadsafe(answers.ask(lora, system, prompt), loop).result()

    try:
        result = await asyncio.to_thread(tune, plan, ask)
    finally:
        await answers.close()
    v = result.verdict
    print(
        f"{result.trained.steps} steps in {result.trained.seconds:.0f} s; validation loss"
        f" {result.loss_before:.3f} -> {result.loss_after:.3f}; recall {v.recall:.0%},"
        f" leakage {v.leakage:.0%}: {result.reason}"
    )
    print(f"evaluation: {plan.out / 'evaluation.md'}")
    if not result.passed:
        print(f"the base model is kept; the adapter is at {result.adapter} for inspection")
        return 1
    print(f"serve it: TERTULIA_LOCAL_LORA={result.adapter.resolve()} (unset it to roll back)")
    return 0
