"""The bundled local model: load time, time to first token and tokens per second.

Run: .venv/bin/python -m bench.bench_local
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.common import percentile
from bot.models.local import LocalModel
from bot.types import Turn

PROMPTS = (
    "What is an embedding, in one sentence?",
    "¿Qué es el refinamiento (fine-tuning) de un modelo?",
    "Give me three tips to learn Python.",
)


async def measure(rounds: int, max_tokens: int) -> None:
    model = LocalModel(max_output_tokens=max_tokens)
    started = time.perf_counter()
    await model.open()
    load_s = time.perf_counter() - started
    ttft: list[float] = []
    rates: list[float] = []
    try:
        for i in range(rounds):
            turns = [Turn("user", PROMPTS[i % len(PROMPTS)])]
            t0 = time.perf_counter()
            first = 0.0
            text = ""
            async for piece in model.stream("You are a helpful assistant.", turns):
                if not first:
                    first = time.perf_counter()
                text += piece
            end = time.perf_counter()
            ttft.append((first - t0) * 1000)
            tokens = model.estimate_tokens(text)
            if end > first and tokens > 1:
                rates.append((tokens - 1) / (end - first))
    finally:
        await model.close()
    print(
        f"local model {model.model}: load {load_s:.2f} s; time to first token p50"
        f" {percentile(ttft, 50):.0f} ms, p99 {percentile(ttft, 99):.0f} ms;"
        f" {sum(rates) / len(rates):.0f} tokens/s generating ({rounds} replies of up to"
        f" {max_tokens} tokens)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(measure(args.rounds, args.max_tokens))


if __name__ == "__main__":
    main()
