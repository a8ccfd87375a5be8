"""The local-model quiz: score (total, es, en), answers in the question's language, speed.

Each candidate runs through the real backend (bot.models.local.LocalModel) with its own
chat template, greedy decoding and 2 threads, on bench/quiz_data.py. Speed figures are
wall-clock on this machine: say how loaded it was when you quote them.

Run: .venv/bin/python -m bench.bench_quiz [qwen2.5-coder-0.5b smollm2 gemma3-270m /path/to/other.gguf ...]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
import unicodedata
from dataclasses import dataclass, field

from bench.quiz_data import QUIZ, STOPWORDS, Question
from bot.models.local import LocalModel, LocalModelMissing, Sampling
from bot.types import Turn
from config.personas import load_personas

GREEDY = Sampling(temperature=0.0)


def normalise(text: str) -> str:
    """Lower case, accents dropped, anything but letters, digits and - turned into spaces."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " " + " ".join(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", plain)) + " "


def correct(question: Question, answer: str) -> bool:
    """Whether an accepted answer appears in the answer as whole words."""
    said = normalise(answer)
    return any(normalise(ok) in said for ok in question.accepted)


def language(answer: str) -> str | None:
    """'en' or 'es' by frequent words (and Spanish accents and ¿¡), None when it is a tie."""
    words = re.findall(r"\w+", answer.lower())
    es = sum(w in STOPWORDS["es"] for w in words) + len(re.findall(r"[ñáéíóú¿¡]", answer))
    en = sum(w in STOPWORDS["en"] for w in words)
    if es == en:
        return None
    return "es" if es > en else "en"


@dataclass(slots=True)
class Result:
    label: str
    right: dict[str, int] = field(default_factory=lambda: {"en": 0, "es": 0})
    in_lang: int = 0  # answers detected in the question's language, echoes not counted
    wrong_lang: int = 0  # answers detected in the other language
    checked_lang: int = 0  # questions whose answer language is checked (not translations)
    ttft_ms: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    load_s: float = 0.0


async def run(
    target: str, system: str, rule: str | None, max_tokens: int, threads: int, show: bool
) -> Result:
    model = LocalModel(
        target, context=2048, threads=threads, max_output_tokens=max_tokens, sampling=GREEDY
    )
    if rule is not None:
        model.language_rule = rule
    result = Result(target)
    started = time.perf_counter()
    await model.open()
    result.load_s = time.perf_counter() - started
    try:
        for q in QUIZ:
            t0 = time.perf_counter()
            first = 0.0
            answer = ""
            async for piece in model.stream(system, [Turn("user", q.text)]):
                first = first or time.perf_counter()
                answer += piece
            end = time.perf_counter()
            if first:
                result.ttft_ms.append((first - t0) * 1000)
                tokens = model.estimate_tokens(answer)
                if tokens > 1 and end > first:
                    result.rates.append((tokens - 1) / (end - first))
            ok = correct(q, answer)
            result.right[q.lang] += ok
            said = language(answer)
            # An answer that repeats the question is in its language for free: it counts
            # as not in the question's language.
            echoed = normalise(q.text.split("?")[0]) in normalise(answer)
            if q.kind != "translation":
                result.checked_lang += 1
                result.in_lang += said == q.lang and not echoed
                result.wrong_lang += said is not None and said != q.lang
            if show:
                mark = "ok " if ok else "-- "
                print(f"  {mark}[{q.lang}->{said or '?'}] {q.text[:48]!r}: {answer.strip()[:90]!r}")
    finally:
        await model.close()
    return result


def table(results: list[Result]) -> str:
    total = len(QUIZ)
    per_lang = {lang: sum(q.lang == lang for q in QUIZ) for lang in ("en", "es")}
    lines = [
        "| model | score | es | en | in the question's language (in the other) |"
        " first token p50 | tokens/s | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        score = r.right["en"] + r.right["es"]
        ttft = statistics.median(r.ttft_ms) if r.ttft_ms else float("nan")
        rate = statistics.median(r.rates) if r.rates else float("nan")
        lines.append(
            f"| {r.label} | {score}/{total} | {r.right['es']}/{per_lang['es']}"
            f" | {r.right['en']}/{per_lang['en']} | {r.in_lang}/{r.checked_lang} ({r.wrong_lang})"
            f" | {ttft:.0f} ms | {rate:.0f} | {r.load_s:.1f} s |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    # The shipped persona; LocalModel itself appends the language rule (LANGUAGE_RULE).
    system = load_personas()["assistant"]["prompt"]
    results = []
    for target in args.models:
        print(f"{target}:", flush=True)
        try:
            rule = "" if args.no_rule else args.rule
            result = await run(target, system, rule, args.max_tokens, args.threads, args.show)
            results.append(result)
        except LocalModelMissing as exc:
            print(f"  skipped: {exc}")
    print(
        f"\nquiz: {len(QUIZ)} questions, greedy, up to {args.max_tokens} tokens, "
        f"{args.threads} threads, language rule {'off' if args.no_rule else repr(args.rule or 'on')}"
    )
    print(table(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "models", nargs="*", default=["qwen2.5-coder-0.5b", "smollm2", "gemma3-270m"]
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--no-rule", action="store_true", help="leave out the language rule")
    parser.add_argument("--rule", help="try another language rule instead of the backend's")
    parser.add_argument("--show", action="store_true", help="print every answer")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
